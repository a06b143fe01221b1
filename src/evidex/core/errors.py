"""Typed errors. Every error a user can cause is an EvidexError with a one-line message."""


class EvidexError(Exception):
    """Base of every error evidex reports to a user (never a traceback)."""


class InvalidInput(EvidexError):
    """Input that cannot be read as what it claims to be (exit code 2 on the CLI)."""


class RuleDataError(EvidexError):
    """A rule or Party profile file is broken; the message names the file and the field."""
