"""The error every command reports in one line."""


class CommandError(Exception):
    """A failure to report in one line (bad input, missing file), exit status 1."""
