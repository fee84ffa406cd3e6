"""Rehearsed rollbacks: proof the rollback of a version worked somewhere before production."""
