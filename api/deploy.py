"""What production (DEBUG off) refuses: the development values of the secrets and the hosts.

Imported by the settings, so it must not import Django's settings or apps.
"""

from urllib.parse import urlsplit

from django.core.exceptions import ImproperlyConfigured

# Published with the source, so it signs nothing in production.
DEVELOPMENT_SECRET_KEY = "dev-only-secret-key-change-me-in-production-0123456789"


def refuse_development_values(
    secret_key: str, allowed_hosts: list[str] | None, lock_signing_key: str | None
) -> None:
    """Stop start-up, naming each variable that still has its development value."""
    problems = []
    if secret_key == DEVELOPMENT_SECRET_KEY:
        problems.append(
            "SECRET_KEY is unset or the published development key: set a key of your own"
        )
    if not allowed_hosts:
        problems.append("ALLOWED_HOSTS is unset: list the host names the API answers to")
    elif "*" in allowed_hosts:
        problems.append("ALLOWED_HOSTS contains '*': list the host names the API answers to")
    if not lock_signing_key:
        problems.append(
            "LOCK_SIGNING_KEY is unset: set the backend's Ed25519 key (base64 of the raw "
            "32-byte private key) that the locks trust"
        )
    if problems:
        raise ImproperlyConfigured(
            "DEBUG is off, so this runs as production and refuses development values: "
            + "; ".join(problems)
            + ". (DEBUG=on is for development only.)"
        )


def public_url(value: str) -> str:
    """PUBLIC_URL as `scheme://host[:port]`: links are this origin plus an absolute path."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ImproperlyConfigured(f"PUBLIC_URL={value!r} is not an http or https URL.")
    if parts.path.strip("/") or parts.query or parts.fragment:
        raise ImproperlyConfigured(
            f"PUBLIC_URL={value!r} has a path; give only scheme://host[:port]."
        )
    return f"{parts.scheme}://{parts.netloc}"
