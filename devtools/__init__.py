"""Local-only tooling: the loopback stack, the webhook receiver, the data generator, the main job and its report.

Nothing under dags/ or include/ imports this package, and the Airflow image does not ship it (.dockerignore).
"""
