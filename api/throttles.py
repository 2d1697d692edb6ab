"""Rate limits that hold across API processes: each count is one atomic increment in the
shared cache (Redis), so any number of processes and threads share it exactly.

DRF's own throttles read a list of times, append and write it back: requests that arrive
together all read the same list and all pass. Here a client's requests in a window of the
rate's period are counted with INCR; beyond the rate the answer is a 429 with Retry-After
until the window ends.
"""

import hashlib
import time
from collections.abc import Mapping

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle


class SharedRateThrottle(SimpleRateThrottle):
    # The name of the setting that holds the rate, read at each request (tests change it).
    rate_setting: str

    def __init__(self):
        self.wait_seconds = 0.0

    def get_rate(self):
        return getattr(settings, self.rate_setting)

    def allow_request(self, request, view):
        if not settings.THROTTLING:
            return True
        ident = self.get_cache_key(request, view)
        if ident is None:
            return True
        limit, period = self.parse_rate(self.get_rate())
        now = time.time()
        window = int(now // period)
        key = f"throttle:{self.scope}:{ident}:{window}"
        # The first request of a window creates its key (SET NX), the others increment it;
        # it is kept a second past the window, so that a late increment cannot find it gone.
        count = 1 if self.cache.add(key, 1, timeout=period + 1) else self.cache.incr(key)
        self.wait_seconds = (window + 1) * period - now
        return count <= limit

    def wait(self):
        return self.wait_seconds


class LoginAddressThrottle(SharedRateThrottle):
    """Log-in attempts from one client address, whichever accounts they name."""

    scope = "login-address"
    rate_setting = "LOGIN_ADDRESS_RATE"

    def get_cache_key(self, request, view):
        return self.get_ident(request)


class LoginAccountThrottle(SharedRateThrottle):
    """Log-in attempts naming one account, from wherever they come."""

    scope = "login-account"
    rate_setting = "LOGIN_RATE"

    def get_cache_key(self, request, view):
        # The API's log-in names the account `email`; the admin's form calls it `username`.
        data = request.data if isinstance(request, Request) else request.POST
        email = data.get("email", data.get("username")) if isinstance(data, Mapping) else None
        if not isinstance(email, str) or not email:
            return None
        # Hashed, so that the cache holds no addresses.
        return hashlib.sha256(email.strip().lower().encode()).hexdigest()


class RegistrationThrottle(SharedRateThrottle):
    """New accounts from one client address."""

    scope = "registration"
    rate_setting = "REGISTRATION_RATE"

    def get_cache_key(self, request, view):
        return self.get_ident(request)


LOGIN_THROTTLES = (LoginAddressThrottle, LoginAccountThrottle)
