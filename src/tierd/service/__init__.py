"""tierd.service."""
