from django.apps import AppConfig


class BaselineConfig(AppConfig):
    name = "benchmarks.baseline"
    label = "bench_baseline"

    def ready(self):
        # Registers the baseline task with the Celery app in every process, the worker included.
        from benchmarks.baseline import tasks  # noqa: F401
