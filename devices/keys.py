"""The backend's Ed25519 signing key: from configuration, or generated once for development.

Imported by the settings, so it must not import Django.
"""

import os
from pathlib import Path

from devices import protocol


def signing_key(configured: str | None, path: Path) -> str:
    """The configured key (base64 of the raw 32 bytes), else the one kept in `path`.

    A configured key that does not parse stops start-up. The development key is created once,
    readable by its owner only; processes that start together agree on it (O_EXCL).
    """
    if configured:
        try:
            protocol.load_private_key(configured)
        except ValueError as error:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(f"LOCK_SIGNING_KEY: {error}") from None
        return configured
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            # Another process created the file a moment ago and is writing it.
            import time

            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
    key = protocol.generate_private_key()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
