"""API keys (admin): create (the token is shown once), list, revoke — within the admin's own
tenant and, for an admin limited to extensions, within those (:mod:`..authz`): another
tenant's key is 404, a key beyond the admin's extensions 403."""

from __future__ import annotations

from fastapi import APIRouter, status

from .. import authz
from ..deps import Admin, ServicesDep
from ..schemas import KeyCreate, KeyCreated, KeyView

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyCreate, admin: Admin, services: ServicesDep) -> KeyCreated:
    """A new API key of the admin's tenant. The token is in this answer only."""
    authz.may_issue_for(admin, tuple(body.extensions))
    key, token = await services.keys.create(
        admin.tenant,
        tuple(body.scopes),
        name=body.name,
        extensions=tuple(body.extensions),
        rate_limit=body.rate_limit,
    )
    return KeyCreated(key=KeyView.of(key), token=token)


@router.get("")
async def list_keys(admin: Admin, services: ServicesDep) -> list[KeyView]:
    """The keys this admin manages (revoked ones included, with ``revoked_at``); never
    tokens."""
    keys = await services.keys.list(admin.tenant)
    return [KeyView.of(k) for k in keys if admin.covers(k.extensions)]


@router.delete("/{key_id}")
async def revoke_key(key_id: str, admin: Admin, services: ServicesDep) -> KeyView:
    """Revoke a key: it never authenticates again, nor do the operator sessions and sign-in
    links it issued."""
    found = await services.keys.get(key_id) if key_id.isalnum() and len(key_id) <= 32 else None
    authz.manageable_key(admin, found)
    revoked = await services.keys.revoke(key_id)
    assert revoked is not None  # noqa: S101 - it existed a moment ago
    return KeyView.of(revoked)
