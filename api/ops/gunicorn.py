"""Gunicorn's own logs as JSON lines (the Procfile's `--logger-class api.ops.gunicorn.JsonLogger`).

The access line carries method, path, status, duration and size as fields. It never carries
the query string, and the secret of a personal calendar feed is cut from its path.
"""

from gunicorn import glogging

from api.logs import Json, masked


class JsonLogger(glogging.Logger):
    def setup(self, cfg) -> None:
        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(Json())

    def access(self, resp, req, environ, request_time) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status
        path = masked(environ.get("PATH_INFO", ""))
        fields = {
            "method": environ.get("REQUEST_METHOD"),
            "path": path,
            "status": int(status.split(None, 1)[0] if isinstance(status, str) else status),
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
            "bytes": getattr(resp, "sent", None),
            "remote": environ.get("REMOTE_ADDR"),
        }
        self.access_log.info("%s %s %s", fields["method"], path, fields["status"], extra=fields)
