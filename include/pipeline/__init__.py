"""Plumbing for the lakehouse DAGs: configuration, the Cosmos dbt set-up, sensors and task callables."""
