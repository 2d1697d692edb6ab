# The one image of every FlexiSpace process (docker-compose.yml runs it once per service).
FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
# The admin's and the API docs' static files go into the image; collectstatic connects to
# nothing, and DEBUG=on only lets it run without the production secrets.
RUN pip install . \
    && DEBUG=on python manage.py collectstatic --noinput --verbosity 0 \
    && useradd --system --home-dir /app flexispace \
    && mkdir -p var/mail \
    && chown -R flexispace var
USER flexispace

EXPOSE 8000 9100
# Each service of docker-compose.yml names its Procfile process, e.g. `api`, `worker -Q locks`.
ENTRYPOINT ["python", "-m", "api.ops.procfile"]
CMD ["api"]
