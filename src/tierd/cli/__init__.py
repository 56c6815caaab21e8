"""The command line's plumbing: argument parsing, output, and the daemon client."""
