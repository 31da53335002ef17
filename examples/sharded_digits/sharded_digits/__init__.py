"""An example Dagster project that writes one artifact in parallel parts with dataset_assets."""
