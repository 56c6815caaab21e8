"""tierd: runs a local-inference box the way a careful operator would."""

__version__ = "0.1.0"
