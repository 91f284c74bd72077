"""The one exception tree of cbcrm; adapters map their HTTP client's errors into it."""

from __future__ import annotations

__all__ = [
    "CrmAmbiguousError",
    "CrmAuthError",
    "CrmAuthPaused",
    "CrmError",
    "CrmPermanentError",
    "CrmTransientError",
    "InvalidPhone",
]


class CrmError(Exception):
    """Root of every CRM error. Messages never contain tokens or secrets."""

    def __init__(self, message: str, *, crm: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.crm = crm
        self.status = status
        self.step = ""  # the step of a command it failed in (contact, deal, log/0, task…)

    def __str__(self) -> str:
        text = super().__str__()
        return f"step {self.step}: {text}" if self.step else text


class CrmTransientError(CrmError):
    """Worth retrying later: timeouts, connection errors, 5xx, 429 (``retry_after`` if known)."""

    def __init__(
        self, message: str, *, crm: str = "", status: int | None = None, retry_after: float = 0.0
    ) -> None:
        super().__init__(message, crm=crm, status=status)
        self.retry_after = retry_after


class CrmAmbiguousError(CrmTransientError):
    """The request went out and no reply came (a read timeout, a dropped connection): the CRM
    may have applied it. Never repeated blindly for a non-idempotent request; the step that
    sent it reconciles (searches) before it sends again."""


class CrmAuthPaused(CrmTransientError):
    """The CRM refused our credentials for good (the circuit is open): nothing is sent until
    someone re-authorises; commands wait (never dead-lettered for this)."""


class CrmPermanentError(CrmError):
    """Retrying will not help (4xx other than 429): dead-letter the command with the reason."""


class CrmAuthError(CrmPermanentError):
    """Credentials refused and could not be refreshed."""


class InvalidPhone(CrmPermanentError):
    """A string that is neither a phone number nor an internal extension."""
