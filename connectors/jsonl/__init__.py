"""JSON Lines files (one JSON object per line) as sources, nested fields flattened."""
