# Astro Runtime for Airflow 3 (the tag's Airflow must match requirements.txt's apache-airflow pin).
FROM astrocrpublic.azurecr.io/runtime:3.3-1

# requirements.txt (dbt-core, dbt-trino, Cosmos, providers) is installed by the runtime's ONBUILD steps.
# dbt runs in-process (Cosmos InvocationMode.DBT_RUNNER), so it shares Airflow's environment.
ENV AIRFLOW__COSMOS__ENABLE_ORJSON_PARSER=True \
    AIRFLOW__COSMOS__ENABLE_TELEMETRY=False \
    DBT_SEND_ANONYMOUS_USAGE_STATS=False

# Pre-build the manifest Cosmos renders the DAG from, so parsing the DAG never invokes dbt.
RUN dbt parse --quiet --project-dir dbt/lakehouse --profiles-dir dbt/lakehouse
