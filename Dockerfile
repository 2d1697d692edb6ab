FROM python:3.11-slim

ENV PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY . .
RUN pip install . \
    && useradd --system --home-dir /app flexispace \
    && mkdir -p var \
    && chown flexispace var
USER flexispace

EXPOSE 8000
# Each service of docker-compose.yml names its Procfile process, e.g. `api` or `worker`.
ENTRYPOINT ["python", "-m", "api.ops.procfile"]
CMD ["api"]
