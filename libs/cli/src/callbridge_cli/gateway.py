"""CLI commands of the api-gateway: serve it, and manage API keys (created keys' tokens are
printed once, to stdout only; the store keeps their SHA-256)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar, cast

import click

from api_gateway.main import serve
from api_gateway.services.keystore import SCOPES, KeyStore, Scope
from api_gateway.services.sessions import SessionStore, SignIn
from api_gateway.settings import GatewaySettings, load
from cbstreams import connect

from .common import config_option, load_or_fail, serve_until_signal

COMMANDS: list[click.Command] = []
T = TypeVar("T")
_config = config_option


def _settings(config: Path | None) -> GatewaySettings:
    return load_or_fail(load, config)


@click.command("gateway")
@_config
def gateway(config: Path | None) -> None:
    """Serve the api-gateway (REST, feeds, routing, webhooks)."""
    settings = _settings(config)
    serve_until_signal(settings, lambda stop: serve(settings, stop))


@click.group("keys")
def keys() -> None:
    """API keys of the gateway: create, list, revoke."""


async def _with_store(settings: GatewaySettings, use: Callable[[KeyStore], Awaitable[T]]) -> T:
    redis = connect(settings.redis_url)
    try:
        return await use(KeyStore(redis, settings.key_prefix))
    finally:
        await redis.aclose()


@keys.command("create")
@_config
@click.option("--tenant", required=True)
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES))
@click.option("--extension", "extensions", multiple=True, help="Limit the key to extensions.")
@click.option("--rate-limit", default=0, show_default=True, help="Requests/minute; 0 = default.")
@click.option("--name", default="")
def create(
    config: Path | None,
    tenant: str,
    scopes: tuple[str, ...],
    extensions: tuple[str, ...],
    rate_limit: int,
    name: str,
) -> None:
    """Create a key; its token is printed once (store it now)."""
    settings = _settings(config)

    key, token = asyncio.run(
        _with_store(
            settings,
            lambda store: store.create(
                tenant,
                cast(tuple[Scope, ...], scopes),
                name=name,
                extensions=extensions,
                rate_limit=rate_limit,
            ),
        )
    )
    click.echo(f"key id: {key.id}", err=True)
    click.echo(token)


@keys.command("list")
@_config
@click.option("--tenant")
def list_keys(config: Path | None, tenant: str | None) -> None:
    """List keys (id, tenant, scopes, extensions, revoked); never tokens."""
    settings = _settings(config)
    for key in asyncio.run(_with_store(settings, lambda store: store.list(tenant))):
        state = "revoked" if key.revoked_at else "active"
        click.echo(
            f"{key.id}  {key.tenant}  {','.join(key.scopes)}  "
            f"ext={','.join(key.extensions) or '*'}  {state}  {key.name}"
        )


@keys.command("revoke")
@_config
@click.argument("key_id")
def revoke(config: Path | None, key_id: str) -> None:
    """Revoke a key: it never authenticates again."""
    settings = _settings(config)
    if asyncio.run(_with_store(settings, lambda store: store.revoke(key_id))) is None:
        raise click.ClickException(f"no key {key_id}")
    click.echo(f"revoked {key_id}")


@click.group("operators")
def operators() -> None:
    """Operators of the web page: one-time sign-in links."""


@operators.command("link")
@_config
@click.option("--tenant", required=True, help="The tenant owning the operator's PBX.")
@click.option("--user", required=True, help="The operator's name, as the page shows it.")
@click.option("--extension", required=True, help="The operator's phone extension.")
@click.option("--ttl", "ttl_s", default=0, help="Session lifetime in s; 0 = the configured.")
@click.option("--supervisor", is_flag=True, help="The session also sees the team (GET /v1/team).")
def link(
    config: Path | None, tenant: str, user: str, extension: str, ttl_s: int, supervisor: bool
) -> None:
    """Print a one-time sign-in link: opening it signs a browser in as USER at EXTENSION."""
    settings = _settings(config)
    signin = SignIn(
        tenant=tenant,
        user=user,
        extension=extension,
        session_ttl_s=ttl_s or settings.feeds.session_ttl_s,
        issued_by="cli",
        supervisor=supervisor,
    )

    async def issue() -> tuple[str, int]:
        redis = connect(settings.redis_url)
        try:
            store = SessionStore(redis, settings.key_prefix)
            return await store.issue_code(signin, settings.feeds.signin_ttl_s)
        finally:
            await redis.aclose()

    code, expires_at = asyncio.run(issue())
    click.echo(f"works once, until {expires_at} (unix s)", err=True)
    click.echo(f"{settings.public_url.rstrip('/')}/ui/#code={code}")


COMMANDS.extend([gateway, keys, operators])
