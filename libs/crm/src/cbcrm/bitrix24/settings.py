"""Settings of one Bitrix24 portal reached as an OAuth application. Secrets stay out of reprs."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["B24Settings"]


@dataclass(frozen=True, slots=True, kw_only=True)
class B24Settings:
    """``portal_url`` is ``https://{portal}.bitrix24.ru`` (REST at ``/rest/``; the token
    response's ``client_endpoint`` wins once known). ``oauth_url`` is Bitrix's OAuth server.
    ``application_token`` (from OnAppInstall) authenticates the events Bitrix24 sends us."""

    portal_url: str
    oauth_url: str = "https://oauth.bitrix.info"
    client_id: str = ""
    client_secret: str = field(default="", repr=False)
    application_token: str = field(default="", repr=False)
    line_number: str = ""  # our external line (LINE_NUMBER); "" = none
    timeout_s: float = 10.0
    commands_per_batch: int = 50
    refresh_margin_s: float = 300.0
