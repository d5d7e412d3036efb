"""Errors a service raises. Each carries a title and a message fit to show a person."""

from __future__ import annotations


class DeskError(Exception):
    """Base of every error a person may be shown. ``title`` heads the error dialog."""

    title = "Error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PermissionDenied(DeskError):
    title = "Not permitted"


class NotFound(DeskError):
    title = "Not found"


class InvalidInput(DeskError):
    """Bad input: ``field`` names what was wrong (a form field, a CLI option, a row)."""

    title = "Invalid input"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field


class StaleRecord(DeskError):
    """Someone else saved first: reload, nothing of yours was lost."""

    title = "Changed by someone else"


class AuthenticationFailed(DeskError):
    title = "Login failed"


class AccountLocked(DeskError):
    title = "Account locked"


class SchemaOutOfDate(DeskError):
    title = "Database needs an upgrade"


class DatabaseUnavailable(DeskError):
    """The database could not be reached, or dropped the connection and kept failing.

    Nothing was written by the call that failed; the next call connects afresh."""

    title = "Database unavailable"

    @classmethod
    def unreachable(cls) -> DatabaseUnavailable:
        return cls("the database cannot be reached; it is tried again on the next action")

    @classmethod
    def lost(cls) -> DatabaseUnavailable:
        return cls("the connection to the database was lost; it is tried again on the next action")
