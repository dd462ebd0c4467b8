"""Fixed-width text files (columns by position) as sources."""
