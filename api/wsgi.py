import gc
import io
import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from api import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
# A WSGI server run without service URLs serves from the embedded servers (api/embedded.py);
# under `manage.py up` or in a container the URLs are set and this does nothing.
embedded.start_unset()
django_application = get_wsgi_application()


def application(environ, start_response):
    """Django, given a length for every body.

    A chunked body comes from gunicorn without CONTENT_LENGTH, so Django would read none of it
    and the size limit (api.errors.LimitBodySize) would not see it. At most one byte more than
    the limit is read here and handed on with its length: a larger body is then a 413 without
    the rest of it being read, a smaller one is read as usual.
    """
    if "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower():
        body = _read_at_most(environ["wsgi.input"], settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
    return django_application(environ, start_response)


def _read_at_most(stream, size: int) -> bytes:
    parts, left = [], size
    while left > 0:
        part = stream.read(left)
        if not part:
            break
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


# What is loaded by now lives as long as the process: kept out of the cyclic collector's way, so
# that a request that allocates much (slot search across a city) does not pay for scanning all
# of Django each time a collection runs (benchmarks/RESULTS.md, growth: GET /slots/).
gc.freeze()
