"""Dependencies between services: what a release `requires` and who requires a service."""
