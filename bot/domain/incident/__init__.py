"""A failed release's incident, run from its ops thread: the commander, their updates, and the
incident message at the top of the thread kept current in place."""
