"""The backend's Ed25519 signing key: from configuration, or generated once for development.

Imported by the settings, so it must not import Django at the top.
"""

import os
import time
from pathlib import Path

from devices import protocol


def checked(configured: str | None) -> str | None:
    """The configured key (base64 of the raw 32 bytes), or None when unset.

    A key that does not parse stops start-up; checking it reads nothing and writes nothing.
    """
    if not configured:
        return None
    try:
        protocol.load_private_key(configured)
    except ValueError as error:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured(f"LOCK_SIGNING_KEY: {error}") from None
    return configured


def development_key(path: Path) -> str:
    """The development key kept in `path`, created on first use.

    Readable by its owner only; processes that start together agree on it (O_EXCL).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        for _ in range(50):
            key = path.read_text().strip()
            if key:
                return key
            # Another process created the file a moment ago and is writing it.
            time.sleep(0.02)
        raise RuntimeError(f"{path} is empty; delete it to generate a new key") from None
    key = protocol.generate_private_key()
    with os.fdopen(descriptor, "w") as file:
        file.write(key + "\n")
    return key
