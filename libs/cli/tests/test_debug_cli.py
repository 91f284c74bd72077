"""``callbridge replay`` over a Redis stream (table, JSON, exit status) and ``callbridge
export`` (a redacted call to a capture file)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path

import redis.asyncio as aioredis
from click.testing import CliRunner

from call_tracker.fixtures import load_fixture
from call_tracker.reducer.topology import Topology
from call_tracker.testing import track_entries
from call_tracker.window import publish_entries
from callbridge_cli.debug import parse_time
from callbridge_cli.main import cli
from cbstreams import PbxKeys, connect

FIXTURES = Path(__file__).resolve().parents[3] / "services/call-tracker/tests/unit/fixtures"


def run(redis_url: str, use: Callable[[aioredis.Redis], Awaitable[object]]) -> None:
    async def main() -> None:
        redis = connect(redis_url)
        try:
            await use(redis)
        finally:
            await redis.aclose()

    asyncio.run(main())


def cleanup(redis_url: str, prefix: str) -> None:
    async def drop(redis: aioredis.Redis) -> None:
        keys = [k async for k in redis.scan_iter(match=f"{prefix}*")]
        if keys:
            await redis.delete(*keys)

    run(redis_url, drop)


def base(redis_url: str, prefix: str) -> list[str]:
    return ["--redis-url", redis_url, "--prefix", prefix, "--pbx", "main"]


def test_replay_prints_no_difference_then_the_difference_and_exits_1(
    redis_url: str, redis_prefix: str
) -> None:
    entries = load_fixture(FIXTURES / "inbound_group.jsonl")

    run(redis_url, lambda r: track_entries(r, redis_prefix, entries, Topology(pbx="main")))
    try:
        ok = CliRunner().invoke(cli, ["replay", *base(redis_url, redis_prefix)])
        assert ok.exit_code == 0, ok.output
        assert "0 differences" in ok.output
        # frames the tracker never applied (another call, same Linkedid as the fixtures
        # reuse it): what "this version would do" differs; JSON, table, exit status 1
        more = load_fixture(FIXTURES / "outbound.jsonl")
        shifted = [e._replace(rx=e.rx + 3_600_000_000) for e in more]
        run(redis_url, lambda r: publish_entries(r, PbxKeys("main", redis_prefix).ami, shifted))
        bad = CliRunner().invoke(cli, ["replay", "--json", *base(redis_url, redis_prefix)])
        assert bad.exit_code == 1, bad.output
        diffs = json.loads(bad.output)["diffs"]
        assert {"pbx": "main", "call_id": diffs[0]["call_id"], "field": "direction",
                "stored": "inbound", "replayed": "outbound"} in diffs  # fmt: skip
        table = CliRunner().invoke(cli, ["replay", *base(redis_url, redis_prefix)])
        assert table.exit_code == 1
        assert "direction" in table.output
        assert "inbound" in table.output
    finally:
        cleanup(redis_url, redis_prefix)


def test_export_of_a_call_writes_a_redacted_capture(
    redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    entries = load_fixture(FIXTURES / "inbound_answered.jsonl")

    run(redis_url, lambda r: track_entries(r, redis_prefix, entries, Topology(pbx="main")))
    try:
        call = next(e.raw for e in entries if b"Linkedid: " in e.raw).split(b"Linkedid: ")[1]
        call_id = call.split(b"\r\n")[0].decode()
        out = tmp_path / "bug"
        args = ["export", *base(redis_url, redis_prefix), "--call", call_id, "--out", str(out),
                "--redact"]  # fmt: skip
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, result.output
        data = (tmp_path / "bug.ami").read_bytes()
        assert b"Newchannel" in data
        caller = next(e.raw for e in entries if b"CallerIDNum: " in e.raw)
        number = caller.split(b"CallerIDNum: ")[1].split(b"\r\n")[0]
        assert len(number) >= 10
        assert number not in data
        missing = CliRunner().invoke(cli, [*args[:-4], "no.such", "--out", str(out)])
        assert missing.exit_code != 0
        assert "no record of call no.such" in missing.output
    finally:
        cleanup(redis_url, redis_prefix)


def test_times_are_iso_or_unix_seconds() -> None:
    assert parse_time("1800000000") == 1_800_000_000_000_000
    assert parse_time("2027-01-15T08:00:00Z") == parse_time("2027-01-15T08:00:00+00:00")
    assert parse_time(None) is None


def test_replay_of_a_capture_file_names_the_commands_that_do_that() -> None:
    result = CliRunner().invoke(cli, ["replay", "inbound_answered.ami"])
    assert result.exit_code == 2
    assert "callbridge serve-capture inbound_answered.ami" in result.output
