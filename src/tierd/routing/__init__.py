"""tierd.routing."""
