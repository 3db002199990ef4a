"""User-facing errors: the CLI prints these as one line and exits with status 2."""


class SeminasError(Exception):
    """An error caused by input the user can fix (a value, a file, a config)."""


class InvalidArchitectureError(SeminasError, ValueError):
    """An architecture that is not a member of its search space."""


class DataNotFoundError(SeminasError, FileNotFoundError):
    """A benchmark or dataset file that is missing or unreadable."""


class UnknownArchitectureError(SeminasError, KeyError):
    """A valid architecture that the tabular benchmark has no entry for."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""
