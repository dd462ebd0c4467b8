"""What an operator runs: run and resume, rollback, replay, reconcile, quarantine, reports."""
