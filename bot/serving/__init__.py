"""How `herald serve` runs: one process doing everything, or `--workers N` — a server that
only verifies, records and acks, and worker processes that carry the work out."""
