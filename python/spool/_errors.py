"""The exceptions the client raises."""


class SpoolError(Exception):
    """A request was refused or failed.

    ``message`` is the server's (or spoolctl's, or the spool library's) own
    words; ``status`` the HTTP status when a boss answered, else None.
    """

    def __init__(self, message, status=None):
        super().__init__(message if status is None else "%s (HTTP %d)" % (message, status))
        self.message = message
        self.status = status


class SpoolTimeout(SpoolError):
    """wait() ran out of time before every job had finished."""
