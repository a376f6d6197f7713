"""Load landing files exactly once into the raw Iceberg tables `lakehouse.assets|clients|transactions`."""
