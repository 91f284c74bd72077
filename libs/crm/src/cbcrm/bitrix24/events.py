"""Events Bitrix24 sends to the application: ONEXTERNALCALLSTART (click-to-call from a CRM
card). They arrive as form posts with PHP-style keys; ``auth[application_token]`` must equal
the token received at install, compared in constant time."""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

import msgspec

from ..exceptions import CrmAuthError, CrmPermanentError
from . import phpquery

__all__ = ["ExternalCallStart", "parse_external_call_start"]


class ExternalCallStart(msgspec.Struct, frozen=True, kw_only=True):
    """A user clicked a number in Bitrix24: originate the call, then finish ``call_id``."""

    call_id: str  # registered by Bitrix24 itself: never register it again
    user_id: str
    phone: str
    extension: str = ""
    entity_type: str = ""
    entity_id: str = ""
    line_number: str = ""


def parse_external_call_start(
    form: list[tuple[str, str]], application_token: str
) -> ExternalCallStart:
    data = phpquery.decode(urlencode(form))
    token = str((data.get("auth") or {}).get("application_token", ""))
    if not application_token or not hmac.compare_digest(token.encode(), application_token.encode()):
        raise CrmAuthError("bitrix24: event with a wrong application_token", crm="bitrix24")
    if data.get("event", "").upper() != "ONEXTERNALCALLSTART":
        raise CrmPermanentError(f"bitrix24: unexpected event {data.get('event')!r}", crm="bitrix24")
    d = data.get("data") or {}
    return ExternalCallStart(
        call_id=str(d.get("CALL_ID", "")),
        user_id=str(d.get("USER_ID", "")),
        phone=str(d.get("PHONE_NUMBER_INTERNATIONAL") or d.get("PHONE_NUMBER", "")),
        extension=str(d.get("EXTENSION", "")),
        entity_type=str(d.get("CRM_ENTITY_TYPE", "")),
        entity_id=str(d.get("CRM_ENTITY_ID", "")),
        line_number=str(d.get("LINE_NUMBER", "")),
    )
