"""One exception tree for every speech provider. Secrets never appear in messages."""

from __future__ import annotations

__all__ = [
    "SpeechAuthError",
    "SpeechBadRequest",
    "SpeechEngineError",
    "SpeechError",
    "SpeechLimitExceeded",
    "SpeechQuotaExceeded",
    "SpeechUnavailable",
]


class SpeechError(Exception):
    """Root of every cbspeech error. ``transient``: worth retrying later."""

    transient = False

    def __init__(self, message: str, *, provider: str = "", code: str = "") -> None:
        super().__init__(message)
        self.provider = provider
        self.code = code  # the provider's error code (SpeechKit ``error_code``), if any


class SpeechLimitExceeded(SpeechError):
    """The request breaks a documented limit (STT 1 MB / 30 s, TTS 5000 chars); not sent."""


class SpeechBadRequest(SpeechError):
    """The provider refused the request as invalid (HTTP 400)."""


class SpeechAuthError(SpeechError):
    """Bad or expired credentials, or a missing role (HTTP 401 / 403)."""


class SpeechQuotaExceeded(SpeechError):
    """Quota hit (HTTP 429) and still hit after the retries allowed."""

    transient = True

    def __init__(
        self, message: str, *, provider: str = "", code: str = "", retry_after_s: float = 1.0
    ) -> None:
        super().__init__(message, provider=provider, code=code)
        self.retry_after_s = retry_after_s


class SpeechUnavailable(SpeechError):
    """The provider could not be reached or failed (timeouts, connection errors, 5xx)."""

    transient = True


class SpeechEngineError(SpeechError):
    """A local engine (espeak-ng, sox, pocketsphinx) failed or is missing."""
