import hashlib
import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.db import models

from api.accounts.choices import Language


class UserManager(BaseUserManager):
    use_in_migrations = True

    def create_user(self, email, password=None, **fields):
        user = self.model(email=self.normalize_email(email).lower(), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, email, password=None, **fields):
        return self.create_user(email, password, is_staff=True, is_superuser=True, **fields)


class User(AbstractUser):
    """A person who books spaces; `is_staff` makes them an operator."""

    username = None
    first_name = None
    last_name = None
    email = models.EmailField(unique=True)
    name = models.CharField(max_length=150, blank=True)
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.FINNISH)
    # SHA-256 of the personal calendar feed's secret: the secret is shown once, when rotated.
    calendar_token = models.CharField(
        max_length=64, unique=True, null=True, blank=True, editable=False
    )

    # Fair use: after repeated no-shows the person's new bookings wait until then.
    paused_until = models.DateTimeField(null=True, blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS = []

    objects = UserManager()

    def __str__(self):
        return self.email

    @property
    def is_operator(self) -> bool:
        return self.is_staff

    def rotate_calendar_token(self) -> str:
        """A new secret for the personal calendar feed; the old feed URL stops working."""
        secret = secrets.token_urlsafe(32)
        self.calendar_token = calendar_token_digest(secret)
        self.save(update_fields=["calendar_token"])
        return secret


def calendar_token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
