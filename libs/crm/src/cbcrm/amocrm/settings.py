"""Settings of one amoCRM/Kommo account. Secrets are kept out of reprs."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["AmoSettings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class AmoSettings:
    """``base_url`` is the account's own domain (``https://{subdomain}.amocrm.ru``).

    Auth is either OAuth2 (``client_id``/``client_secret``/``redirect_uri``; the tokens live
    in Redis, see :class:`~cbcrm.remote.TokenStore`) or a ``long_lived_token`` from a private
    integration (no refresh; it simply stops working when it expires)."""

    base_url: str
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    redirect_uri: str = ""
    long_lived_token: str = field(default="", repr=False)
    source: str = "callbridge"  # the calls' ``source`` / Unsorted ``service_code``
    timeout_s: float = 10.0
    #: amoCRM users have no extension field: the integration keeps the map (user id -> ext).
    extensions: dict[str, str] = field(default_factory=dict)
    calls_per_request: int = 50
    refresh_margin_s: float = 300.0  # refresh OAuth tokens this long before they expire
    unsorted_pipeline_id: int = 0  # 0 = the main pipeline
    task_type_id: int = 1  # 1 = "follow-up" (call back)

    @property
    def uses_oauth(self) -> bool:
        return not self.long_lived_token
