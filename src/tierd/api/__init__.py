"""tierd.api."""
