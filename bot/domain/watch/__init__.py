"""The early watch: short-window rules over a release's first minutes, and their hysteresis."""
