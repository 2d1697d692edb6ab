"""The demo's lock: `manage.py demo_data` calls `enrol_demo_lock(space)`.

With the simulator's visitors (on by default) the `up` log then shows each booking's code typed
on the simulated lock as its window opens (ACCEPTED) and again after it ended (REFUSED).
"""

from api.access import services
from api.access.models import Lock
from api.catalogue.models import Space

DEMO_LOCK_ID = "demo-lock-1"


def enrol_demo_lock(space: Space, lock_id: str = DEMO_LOCK_ID) -> Lock:
    """Enrol the demo lock on `space` once; running the demo again changes nothing."""
    lock = Lock.objects.filter(id=lock_id).first() or Lock.objects.filter(space=space).first()
    if lock is None:
        lock, _password = services.enrol_lock(lock_id, space)
    return lock
