"""Settings sections of the HTTP CRMs (``[amocrm]``, ``[bitrix24]``, ``[megaplan]``).

Every secret is a :class:`~cbruntime.Secret` (never in a repr or a log line). Each section
carries the account's shared rate limit (a Redis leaky bucket used by every replica, see
``cbcrm.remote.RedisLimiter``) and the in-request retry policy; the executor's own backoff
(``[executor]``) handles what is still failing after that.

OAuth: the tokens live in Redis (``{prefix}crm:{crm}:tokens``). The first start needs an
authorization code (``auth_code``, valid minutes): it is exchanged once, when no tokens are
stored yet; afterwards the stored refresh token rotates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cbcrm.remote import RetryPolicy
from cbruntime import Secret

__all__ = ["AmoSyncSettings", "B24SyncSettings", "MegaplanSyncSettings", "RemoteLimits"]


@dataclass(frozen=True, kw_only=True)
class RemoteLimits:
    rate: float  # requests/s leaving the shared bucket
    burst: int  # bucket depth
    timeout_s: float = 10.0
    retry_attempts: int = 3  # in-request retries of transient errors
    retry_base_s: float = 0.5
    retry_cap_s: float = 10.0
    retry_deadline_s: float = 30.0

    def retry(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.retry_attempts,
            base=self.retry_base_s,
            cap=self.retry_cap_s,
            deadline=self.retry_deadline_s,
        )


def _amo_limits() -> RemoteLimits:
    return RemoteLimits(rate=4.5, burst=2)  # ≤ 6.5 in any second (amoCRM allows 7); burst 2
    # leaves one slot for cards (priority lanes)


def _b24_limits() -> RemoteLimits:
    return RemoteLimits(rate=1.8, burst=40)  # the portal: 2/s, 50 deep


def _megaplan_limits() -> RemoteLimits:
    return RemoteLimits(rate=3.0, burst=3)  # none documented: a modest one


@dataclass(frozen=True, kw_only=True)
class AmoSyncSettings:
    """OAuth2 (``client_id``/``client_secret``/``redirect_uri`` + ``auth_code`` once) or a
    private integration's ``long_lived_token``."""

    base_url: str = ""  # https://{subdomain}.amocrm.ru
    client_id: str = ""
    client_secret: Secret | None = None
    redirect_uri: str = ""
    auth_code: Secret | None = None
    long_lived_token: Secret | None = None
    extensions: dict[str, str] = field(default_factory=dict)  # user id -> extension
    source: str = "callbridge"
    limits: RemoteLimits = field(default_factory=_amo_limits)


@dataclass(frozen=True, kw_only=True)
class B24SyncSettings:
    """A local application: ``client_id``/``client_secret``, ``auth_code`` once, and the
    ``application_token`` from OnAppInstall (checks events Bitrix24 sends)."""

    portal_url: str = ""  # https://{portal}.bitrix24.ru
    oauth_url: str = "https://oauth.bitrix.info"
    client_id: str = ""
    client_secret: Secret | None = None
    auth_code: Secret | None = None
    application_token: Secret | None = None
    line_number: str = ""
    limits: RemoteLimits = field(default_factory=_b24_limits)


@dataclass(frozen=True, kw_only=True)
class MegaplanSyncSettings:
    base_url: str = ""  # https://{account}.megaplan.ru
    username: str = ""
    password: Secret | None = None
    program_id: str = "1"
    extensions: dict[str, str] = field(default_factory=dict)  # employee id -> extension
    limits: RemoteLimits = field(default_factory=_megaplan_limits)
