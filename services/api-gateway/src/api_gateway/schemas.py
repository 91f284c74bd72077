"""Request and response bodies of the REST API (pydantic, for validation and OpenAPI)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from .services.keystore import ApiKey, Scope
from .services.sessions import OperatorSession

__all__ = [
    "CallList",
    "CallOut",
    "KeyCreate",
    "KeyCreated",
    "KeyView",
    "Operator",
    "OriginateIn",
    "OriginateOut",
    "RecordingLink",
    "SessionCreate",
    "SessionOut",
    "SessionView",
    "SignInExchange",
    "SignInLink",
    "TransferIn",
]


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Annotated[str, Field(max_length=100)] = ""
    scopes: list[Scope] = Field(min_length=1)
    extensions: Annotated[list[str], Field(max_length=1000)] = []
    rate_limit: Annotated[int, Field(ge=0, le=1_000_000, description="per minute; 0 = default")] = 0


class KeyView(BaseModel):
    id: str
    tenant: str
    name: str
    scopes: list[str]
    extensions: list[str]
    rate_limit: int
    created_at: int
    revoked_at: int

    @classmethod
    def of(cls, key: ApiKey) -> KeyView:
        return cls(
            id=key.id,
            tenant=key.tenant,
            name=key.name,
            scopes=list(key.scopes),
            extensions=list(key.extensions),
            rate_limit=key.rate_limit,
            created_at=key.created_at,
            revoked_at=key.revoked_at,
        )


class KeyCreated(BaseModel):
    key: KeyView
    token: str = Field(description="shown once: store it now")


class OriginateIn(BaseModel):
    extension: str = Field(min_length=1, max_length=32, description="the operator, dialled first")
    number: str = Field(min_length=1, max_length=32, description="the client, dialled second")
    pbx: Annotated[str | None, Field(max_length=64, description="one of the tenant's PBXs")] = None


class OriginateOut(BaseModel):
    call_id: str
    pbx: str
    extension: str
    number: str
    status: Literal["queued"] = "queued"


class TransferIn(BaseModel):
    to: str = Field(min_length=1, max_length=32, description="the target extension")
    mode: Literal["blind", "redirect"] = "blind"
    from_extension: Annotated[str | None, Field(max_length=32)] = None
    pbx: Annotated[str | None, Field(max_length=64)] = None


class CallOut(BaseModel):
    call_id: str
    pbx: str
    state: Literal["live", "ended"]
    record: dict[str, Any] | None = None
    timeline: list[dict[str, Any]] = Field(default_factory=list)


class CallList(BaseModel):
    calls: list[dict[str, Any]]
    next_cursor: str | None


class RecordingLink(BaseModel):
    url: str
    expires_at: int


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    user: str = Field(min_length=1, max_length=100)
    extension: str = Field(min_length=1, max_length=32)
    ttl_s: Annotated[int | None, Field(ge=60, le=7 * 86_400)] = None
    supervisor: bool = Field(False, description="the session also sees the team (GET /v1/team)")


class SessionOut(BaseModel):
    token: str = Field(description="shown once; pass it as ?token= to the feeds")
    session_id: str = Field(description="revoke it with DELETE /v1/sessions/{session_id}")
    user: str
    extension: str
    expires_at: int
    supervisor: bool = False

    @classmethod
    def of(cls, session: OperatorSession, token: str) -> SessionOut:
        return cls(token=token, session_id=session.id, user=session.user,
                   extension=session.extension, expires_at=session.expires_at,
                   supervisor=session.supervisor)  # fmt: skip


class SessionView(BaseModel):
    session_id: str
    user: str
    extension: str
    expires_at: int
    issued_by: str
    supervisor: bool = False

    @classmethod
    def of(cls, session: OperatorSession) -> SessionView:
        return cls(session_id=session.id, user=session.user, extension=session.extension,
                   expires_at=session.expires_at, issued_by=session.issued_by,
                   supervisor=session.supervisor)  # fmt: skip


class SignInLink(BaseModel):
    url: str = Field(description="the page's address with the one-time code; works once")
    code: str
    user: str
    extension: str
    expires_at: int = Field(description="the code's expiry (unix s)")


class SignInExchange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=8, max_length=100, pattern=r"^cbc_[A-Za-z0-9_-]+$")


class Operator(BaseModel):
    user: str
    extension: str
    tenant: str
    expires_at: int
    supervisor: bool = False
