"""`tierd doctor`: checks that this install can run on this machine, each with its fix."""
