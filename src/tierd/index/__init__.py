"""tierd.index."""
