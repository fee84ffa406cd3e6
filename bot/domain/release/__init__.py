"""Releases: the manifest, the lifecycle, events, recording them, the notices they cause."""
