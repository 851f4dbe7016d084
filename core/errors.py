"""Errors raised by core services. Each carries a German, user-facing message key or text."""


class SchadenportalError(Exception):
    """Base class: the message is safe to show to the user (German)."""


class ValidationError(SchadenportalError):
    """Bad input; nothing was changed. `field` names the offending field where there is one."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class PermissionDenied(SchadenportalError):
    """The actor may not do this (or may not know the object exists)."""


class NotFound(SchadenportalError):
    """The object does not exist (never used where existence must stay hidden)."""


class ConflictError(SchadenportalError):
    """Someone else changed the object in the meantime."""


class TransitionError(SchadenportalError):
    """A status change that the lifecycle does not allow."""


class ConfigurationError(SchadenportalError):
    """Settings that must not be used (e.g. demo keys in production)."""


class AuthError(SchadenportalError):
    """Login refused; the message never says whether the user exists."""
