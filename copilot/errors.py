"""Our small error hierarchy: every error a user can cause prints as one line."""


class CopilotError(Exception):
    """An error the CLI reports as one line and a non-zero exit."""

    exit_code = 1


class IncidentError(CopilotError):
    """A recorded incident file is missing, unreadable or invalid."""

    exit_code = 2


class SourceError(CopilotError):
    """A source (cluster or recording) could not answer."""


class NotFound(SourceError):
    """The object does not exist."""

    exit_code = 3


class Forbidden(SourceError):
    """RBAC refused the read; recorded as a gap where it is not fatal."""

    exit_code = 4


class Unreachable(SourceError):
    """The cluster API could not be reached."""

    exit_code = 5


class UsageError(CopilotError):
    """A command-line value that cannot be used."""

    exit_code = 2


class Gone(SourceError):
    """A watch asked for a resourceVersion the server no longer keeps (HTTP 410): list again."""
