"""The budget manager: the one owner of load and unload decisions."""
