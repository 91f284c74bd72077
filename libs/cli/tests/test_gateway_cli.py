"""The ``callbridge keys`` commands against a real Redis: a created key's token is printed
once, listed without it, and revoked for good."""

from __future__ import annotations

import asyncio

from click.testing import CliRunner

from api_gateway.services.keystore import KeyStore
from api_gateway.services.sessions import SessionStore
from callbridge_cli.main import cli
from cbstreams import connect


def _verify(redis_url: str, prefix: str, token: str) -> bool:
    async def main() -> bool:
        redis = connect(redis_url)
        try:
            return await KeyStore(redis, prefix).verify(token) is not None
        finally:
            await redis.aclose()

    return asyncio.run(main())


def test_keys_create_list_and_revoke_manage_a_key_whose_token_is_shown_once(
    redis_url: str, redis_prefix: str
) -> None:
    env = {"CB_REDIS_URL": redis_url, "CB_KEY_PREFIX": redis_prefix}
    runner = CliRunner()
    created = runner.invoke(
        cli,
        ["keys", "create", "--tenant", "acme", "--scope", "calls:read", "--extension", "100"],
        env=env,
    )
    assert created.exit_code == 0, created.output
    token = created.stdout.strip().splitlines()[-1]
    assert token.startswith("cbk_")
    assert _verify(redis_url, redis_prefix, token)
    listed = runner.invoke(cli, ["keys", "list"], env=env)
    assert "calls:read" in listed.output
    assert token not in listed.output
    key_id = token.split("_")[1]
    assert runner.invoke(cli, ["keys", "revoke", key_id], env=env).exit_code == 0
    assert not _verify(redis_url, redis_prefix, token)
    assert "revoked" in runner.invoke(cli, ["keys", "list"], env=env).output


def test_operators_link_prints_a_one_time_sign_in_link(redis_url: str, redis_prefix: str) -> None:
    env = {"CB_REDIS_URL": redis_url, "CB_KEY_PREFIX": redis_prefix}
    args = ["operators", "link", "--tenant", "acme", "--user", "anna", "--extension", "100"]
    printed = CliRunner().invoke(cli, args, env=env)
    assert printed.exit_code == 0, printed.output
    url = printed.stdout.strip().splitlines()[-1]
    assert url.startswith("http://127.0.0.1:8080/ui/#code=cbc_")

    async def redeem_twice() -> list[str | None]:
        redis = connect(redis_url)
        try:
            store = SessionStore(redis, redis_prefix)
            code = url.rpartition("code=")[2]
            found = [await store.redeem(code) for _ in range(2)]
            return [f[0].extension if f else None for f in found]
        finally:
            await redis.aclose()

    assert asyncio.run(redeem_twice()) == ["100", None]


def test_operators_link_supervisor_signs_in_a_supervisor(redis_url: str, redis_prefix: str) -> None:
    env = {"CB_REDIS_URL": redis_url, "CB_KEY_PREFIX": redis_prefix}
    args = ["operators", "link", "--tenant", "acme", "--user", "boss", "--extension", "199"]
    urls = []
    for extra in ([], ["--supervisor"]):
        printed = CliRunner().invoke(cli, [*args, *extra], env=env)
        assert printed.exit_code == 0, printed.output
        urls.append(printed.stdout.strip().splitlines()[-1])

    async def redeem() -> list[bool]:
        redis = connect(redis_url)
        try:
            store = SessionStore(redis, redis_prefix)
            found = [await store.redeem(u.rpartition("code=")[2]) for u in urls]
            return [f[0].supervisor for f in found if f]
        finally:
            await redis.aclose()

    assert asyncio.run(redeem()) == [False, True]
