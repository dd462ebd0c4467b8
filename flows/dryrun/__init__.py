"""The dry run: the real run through a never-committed transaction, and proof nothing changed."""
