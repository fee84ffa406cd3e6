"""Feature flags the releases ship behind, and the ones due for cleaning up."""
