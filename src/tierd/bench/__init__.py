"""tierd.bench."""
