"""The control tables in the target: runs, batches, journal, checkpoints, locks, fingerprints."""
