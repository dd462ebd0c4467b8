"""Delimited text files (CSV, TSV, ...) as sources."""
