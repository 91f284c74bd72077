"""Every dependency the routers use, declared once as an ``Annotated`` alias."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .auth import require
from .errors import ApiError, not_found
from .services.keystore import ApiKey
from .settings import GatewaySettings
from .state import Services

__all__ = [
    "Admin",
    "CallsReader",
    "CrmWriter",
    "EventsReader",
    "Originator",
    "RecordingsReader",
    "ServicesDep",
    "SettingsDep",
    "pbx_for",
]


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


def get_settings(conn: HTTPConnection) -> GatewaySettings:
    return get_services(conn).settings


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
CallsReader = Annotated[ApiKey, Depends(require("calls:read"))]
Originator = Annotated[ApiKey, Depends(require("calls:originate"))]
RecordingsReader = Annotated[ApiKey, Depends(require("recordings:read"))]
EventsReader = Annotated[ApiKey, Depends(require("events:read"))]
CrmWriter = Annotated[ApiKey, Depends(require("crm:write"))]
Admin = Annotated[ApiKey, Depends(require("admin"))]


def pbx_for(settings: GatewaySettings, tenant: str, pbx: str | None) -> str:
    """The tenant's PBX named ``pbx`` (404 if not theirs), or its only PBX when None."""
    owned = settings.tenant_pbxs(tenant)
    if pbx is not None:
        if pbx not in owned:
            raise not_found("no-such-pbx", "no PBX with this name")
        return pbx
    if len(owned) == 1:
        return owned[0]
    if not owned:
        raise not_found("no-such-pbx", "this tenant has no PBX")
    raise ApiError(422, "pbx-required", "PBX required", "this tenant has several PBXs: name one")
