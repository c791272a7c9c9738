"""Errors the command line reports, in a module with no imports so that it starts fast."""


class ConfigError(Exception):
    """A configuration problem, with one message naming the offending key."""
