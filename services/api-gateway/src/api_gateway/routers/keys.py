"""API keys (admin): create (the token is shown once), list, revoke — within the admin's
own tenant; another tenant's key is answered 404."""

from __future__ import annotations

from fastapi import APIRouter, status

from ..deps import Admin, ServicesDep
from ..errors import forbidden, not_found
from ..schemas import KeyCreate, KeyCreated, KeyView

router = APIRouter(prefix="/v1/keys", tags=["keys"])


@router.post("", status_code=status.HTTP_201_CREATED)
async def create_key(body: KeyCreate, admin: Admin, services: ServicesDep) -> KeyCreated:
    """A new API key of the admin's tenant. The token is in this answer only."""
    if admin.extensions and not set(body.extensions) <= set(admin.extensions):
        raise forbidden("extension-not-allowed", "a key cannot get extensions its creator lacks")
    if admin.extensions and not body.extensions:
        raise forbidden("extension-not-allowed", "name the extensions of the new key")
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
    """The tenant's keys (revoked ones included, with ``revoked_at``); never tokens."""
    return [KeyView.of(k) for k in await services.keys.list(admin.tenant)]


@router.delete("/{key_id}")
async def revoke_key(key_id: str, admin: Admin, services: ServicesDep) -> KeyView:
    """Revoke a key: it never authenticates again."""
    key = await services.keys.get(key_id) if key_id.isalnum() and len(key_id) <= 32 else None
    if key is None or key.tenant != admin.tenant:
        raise not_found("no-such-key", "no key with this id")
    revoked = await services.keys.revoke(key_id)
    assert revoked is not None  # noqa: S101 - it existed a moment ago
    return KeyView.of(revoked)
