"""The `herald` command line: serve, demo, emit, check-config, db, dora, digest, notes."""
