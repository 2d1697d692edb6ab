from django.utils import translation
from rest_framework import authentication


class TokenAuthentication(authentication.TokenAuthentication):
    """DRF's token authentication; a signed-in person is then answered in their own `language`
    (their choice in their account beats what their client's Accept-Language says)."""

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        translation.activate(user.language)
        return user, token
