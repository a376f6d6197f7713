"""Shared code for the lakehouse DAGs: settings, the local stack, ingestion and alerting."""
