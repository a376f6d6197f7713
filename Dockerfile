# Astro Runtime 3.3 (Airflow 3.3) on Python 3.11, the interpreter requirements.txt's pins are tested on.
# The tag's Airflow must equal requirements.txt's apache-airflow pin: tests/unit/test_astro_files.py checks the minor.
FROM astrocrpublic.azurecr.io/runtime:3.3-2-python-3.11

# requirements.txt (dbt-core, dbt-trino, Cosmos, providers) and the project are installed by the runtime's ONBUILD
# steps. dbt runs in-process (Cosmos InvocationMode.DBT_RUNNER), so it shares Airflow's environment.
ENV AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER=True \
    AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY=False \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False

# Build the manifest Cosmos renders the DAG from, so parsing the DAG never invokes dbt. `parse` reads the
# profile but opens no connection, so the default (local) target's fallbacks are enough here.
RUN dbt parse --quiet --project-dir dbt/lakehouse --profiles-dir dbt/lakehouse
