"""Parquet files as sources, streamed row group by row group."""
