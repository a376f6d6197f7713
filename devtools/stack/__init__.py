"""The local lakehouse: PostgreSQL, an S3-compatible store, Trino and Airflow on loopback, run as plain processes."""
