"""The ``callbridge crm-sync`` commands: dead letters listed, re-driven, dropped; lookups."""

from __future__ import annotations

import asyncio
import json

from click.testing import CliRunner

from callbridge_cli.main import cli
from cbstreams import connect
from cbstreams.deadletter import DeadLetters


def seed(redis_url: str, dead: str, stream: str) -> None:
    async def main() -> None:
        redis = connect(redis_url)
        try:
            letters = DeadLetters(redis, dead)
            await letters.add(stream, "1-0", {b"data": b'{"x":1}'}, "422 bad", 1, group="g")
            await letters.add(stream, "2-0", {b"data": b'{"x":2}'}, "gave up", 20, group="g")
        finally:
            await redis.aclose()

    asyncio.run(main())


def cleanup(redis_url: str, prefix: str) -> None:
    async def main() -> None:
        redis = connect(redis_url)
        try:
            keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()

    asyncio.run(main())


def test_dead_letters_can_be_listed_redriven_and_dropped(redis_url: str, redis_prefix: str) -> None:
    dead, stream = f"{redis_prefix}dead", f"{redis_prefix}crm:commands"
    env = {"CB_REDIS_URL": redis_url, "CB_DEAD_STREAM": dead}
    seed(redis_url, dead, stream)
    try:
        runner = CliRunner()
        listed = runner.invoke(cli, ["crm-sync", "dead", "list"], env=env)
        assert listed.exit_code == 0, listed.output
        rows = [json.loads(line) for line in listed.output.splitlines()]
        assert [(r["id"], r["error"], r["payload"]) for r in rows] == [
            ("1-0", "422 bad", {"data": '{"x":1}'}),
            ("2-0", "gave up", {"data": '{"x":2}'}),
        ]
        first, second = rows[0]["dead_id"], rows[1]["dead_id"]
        redriven = runner.invoke(cli, ["crm-sync", "dead", "redrive", first], env=env)
        assert redriven.exit_code == 0
        assert "not found" not in redriven.output
        dropped = runner.invoke(cli, ["crm-sync", "dead", "drop", second], env=env)
        assert "dropped" in dropped.output
        assert runner.invoke(cli, ["crm-sync", "dead", "list"], env=env).output == ""
    finally:
        cleanup(redis_url, redis_prefix)


def test_dead_letters_are_redriven_in_bulk_by_reason_by_time_or_all(
    redis_url: str, redis_prefix: str
) -> None:
    dead, stream = f"{redis_prefix}dead", f"{redis_prefix}crm:commands"
    env = {"CB_REDIS_URL": redis_url, "CB_DEAD_STREAM": dead}
    seed(redis_url, dead, stream)
    seed(redis_url, dead, stream)
    try:
        runner = CliRunner()
        redrive = ["crm-sync", "dead", "redrive"]
        refused = runner.invoke(cli, redrive, env=env)
        assert refused.exit_code != 0  # neither ids nor a filter
        by_reason = runner.invoke(cli, [*redrive, "--reason", "GAVE UP"], env=env)
        assert by_reason.exit_code == 0, by_reason.output
        assert by_reason.output.endswith("2 re-driven\n")
        left = runner.invoke(cli, ["crm-sync", "dead", "list"], env=env).output.splitlines()
        assert [json.loads(r)["error"] for r in left] == ["422 bad", "422 bad"]
        future = runner.invoke(cli, [*redrive, "--since", "2999-01-01"], env=env)
        assert future.output.endswith("0 re-driven\n")
        everything = runner.invoke(cli, [*redrive, "--all"], env=env)
        assert everything.output.endswith("2 re-driven\n")
        assert runner.invoke(cli, ["crm-sync", "dead", "list"], env=env).output == ""

        async def back() -> int:
            redis = connect(redis_url)
            try:
                return int(await redis.xlen(stream))
            finally:
                await redis.aclose()

        assert asyncio.run(back()) == 4  # every one back on its stream
    finally:
        cleanup(redis_url, redis_prefix)


def test_lookup_asks_the_builtin_crm_and_explains_the_choice() -> None:
    env = {"CB_BUILTIN__PATH": ":memory:"}
    result = CliRunner().invoke(cli, ["crm-sync", "lookup", "8 926 555-44-33"], env=env)
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["effective"]["code"] == "oldest_contact.no_open_deal"
    assert len(out["lookup"]["entities"]) == 2
