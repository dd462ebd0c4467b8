"""A project: ferryman.yaml, its specs and suites as a checked plan, and a prepared run."""
