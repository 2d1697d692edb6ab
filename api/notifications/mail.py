"""The development mail backend: one .eml file per message under EMAIL_FILE_PATH, logged."""

import logging
import re
from pathlib import Path

from django.conf import settings
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone

log = logging.getLogger("api.notifications.mail")


class FileBackend(BaseEmailBackend):
    """Writes each message whole (headers, text, HTML, attachments) as an .eml file.

    Django's own file backend appends every message of a connection to one log file; one file
    per message opens in any mail client, and the log line says where it went.
    """

    def __init__(self, file_path=None, fail_silently=False, **kwargs):
        super().__init__(fail_silently=fail_silently, **kwargs)
        self.directory = Path(file_path or settings.EMAIL_FILE_PATH)

    def send_messages(self, email_messages):
        self.directory.mkdir(parents=True, exist_ok=True)
        written = 0
        for message in email_messages:
            mime = message.message()
            stamp = timezone.now().strftime("%Y%m%dT%H%M%S%f")
            ident = re.sub(r"[^A-Za-z0-9.-]+", "-", mime.get("Message-ID", "")).strip("-")
            path = self.directory / f"{stamp}-{ident or written}.eml"
            # Write then rename, so that nobody reads half a message.
            partial = path.with_suffix(".partial")
            partial.write_bytes(mime.as_bytes(linesep="\r\n"))
            partial.rename(path)
            log.info("mail to %s written to %s", ", ".join(message.recipients()), path)
            written += 1
        return written
