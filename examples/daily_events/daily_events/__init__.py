"""An example Dagster project that stores its own daily-partitioned dataset with dataset_assets."""
