"""Parquet/CSV files as a sink for staging exports (one file per batch)."""
