"""One batch from source to target: map, validate, key and parent checks, write."""
