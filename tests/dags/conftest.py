"""DAG tests parse the real DAG folder with the stack's Airflow configuration (no running services needed)."""

from __future__ import annotations

import os

import pytest

from devtools.stack.airflow import airflow_env
from include.settings import get_settings

# Before anything imports Airflow, so its configuration is the stack's.
os.environ.update(airflow_env(get_settings()))


@pytest.fixture(scope="session")
def dag_bag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])


@pytest.fixture(scope="session")
def pipeline(dag_bag):
    return dag_bag.dags["lakehouse_pipeline"]
