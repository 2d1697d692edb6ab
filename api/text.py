"""What text the API takes: names on one line, and free text without control characters.

Calendars and mail headers are line-based, so a line break in a name breaks them; a control
character or a bidirectional override only hides or disguises what a person reads. Letters of
any script, emoji and punctuation are taken as they are.
"""

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

# The Unicode line and paragraph separators, and the bidirectional embeddings, overrides and
# isolates; with the C0 and C1 controls (line breaks among them), none of them is in a name.
_INVISIBLE = "\u2028\u2029\u202a-\u202e\u2066-\u2069"
_NOT_ONE_LINE = re.compile(f"[\x00-\x1f\x7f-\x9f{_INVISIBLE}]")
# Free text (a description, a purpose) may have line breaks and tabs.
_NOT_TEXT = re.compile(f"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f{_INVISIBLE}]")


def validate_one_line(value: str) -> None:
    if _NOT_ONE_LINE.search(value):
        raise ValidationError(
            _("Use one line of text, without line breaks or control characters."),
            code="not_one_line",
        )


def validate_text(value: str) -> None:
    if _NOT_TEXT.search(value):
        raise ValidationError(_("Remove the control characters."), code="control_characters")


def one_line(value: str) -> str:
    """The text with each run of spaces, line breaks and controls as one space: for names
    that came in before they were checked."""
    return " ".join(_NOT_ONE_LINE.sub(" ", value).split())
