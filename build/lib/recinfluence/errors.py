"""Errors raised on bad input: one line that names the file or key and what is wrong."""


class InputError(ValueError):
    """Malformed data or configuration; the message names the file or key."""
