"""The release calendar: what is planned, what is frozen, what shipped and how it went."""
