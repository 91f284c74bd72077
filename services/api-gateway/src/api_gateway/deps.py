"""Every dependency the routers use, declared once as an ``Annotated`` alias. Each one
authenticates through :mod:`.authz` (the one authorisation layer) and yields the caller as a
:class:`~.authz.Principal`; what a principal may do with a resource is asked of ``authz``."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from starlette.requests import HTTPConnection

from .authz import Principal, require, services_of
from .errors import ApiError, not_found
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


def get_settings(conn: HTTPConnection) -> GatewaySettings:
    return services_of(conn).settings


ServicesDep = Annotated[Services, Depends(services_of)]
SettingsDep = Annotated[GatewaySettings, Depends(get_settings)]
CallsReader = Annotated[Principal, Depends(require("calls:read"))]
Originator = Annotated[Principal, Depends(require("calls:originate"))]
RecordingsReader = Annotated[Principal, Depends(require("recordings:read"))]
EventsReader = Annotated[Principal, Depends(require("events:read", query=True))]
CrmWriter = Annotated[Principal, Depends(require("crm:write"))]
Admin = Annotated[Principal, Depends(require("admin"))]


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
