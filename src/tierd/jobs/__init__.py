"""tierd.jobs."""
