"""Typed errors. Every error a user can cause is an EvidexError with a one-line message."""


class EvidexError(Exception):
    """Base of every error evidex reports to a user (never a traceback)."""


class InvalidInput(EvidexError):
    """Input that cannot be read as what it claims to be (exit code 2 on the CLI)."""


class RuleDataError(EvidexError):
    """A rule or Party profile file is broken; the message names the file and the field."""


class NotFound(EvidexError):
    """No such object for this principal (another Party's objects are 'not found', never 'forbidden')."""


class Forbidden(EvidexError):
    """The principal's role may not do this at all."""


class Invalid(EvidexError):
    """A command that is well-formed but breaks a rule (missing reasons, unknown ground ...)."""

    def __init__(self, message: str, problems: list[dict[str, object]] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or []


class Conflict(EvidexError):
    """The object changed meanwhile, or already exists."""


class Unavailable(EvidexError):
    """This node cannot do it at all now, whatever the input (a font the documents need is missing):
    HTTP 503, for the administrator to fix."""


class TooManyRequests(EvidexError):
    """A rate limit was reached (HTTP 429); `retry_after` is in seconds."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
