"""The baselines: a bare DRF create endpoint and a Celery task that each insert one row.

Installed only by `benchmarks.settings`, never by the project's own settings.
"""
