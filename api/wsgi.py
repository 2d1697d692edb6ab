import gc
import os

from django.core.wsgi import get_wsgi_application

from api import embedded

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "api.settings")
# A WSGI server run without service URLs serves from the embedded servers (api/embedded.py);
# under `manage.py up` or in a container the URLs are set and this does nothing.
embedded.start_unset()
application = get_wsgi_application()
# What is loaded by now lives as long as the process: kept out of the cyclic collector's way, so
# that a request that allocates much (slot search across a city) does not pay for scanning all
# of Django each time a collection runs (benchmarks/RESULTS.md, growth: GET /slots/).
gc.freeze()
