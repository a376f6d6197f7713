"""A one-task DAG: the parse-time baseline for bench/dag_parse.py."""

from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2026, 1, 1), catchup=False, tags=["bench"])
def trivial():
    @task
    def noop() -> None:
        """Does nothing."""

    noop()


trivial()
