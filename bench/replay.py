"""Stream replay benchmark: ``callbridge replay``'s engine over a window of ≥ 1,000,000 raw
AMI events (amisim's realistic mix, ~50 % VarSet) already tracked live, replayed through the
current reducer into a scratch prefix and diffed against the stored records.

Usage: ``uv run python bench/replay.py [--events N]``. Prints ``name=value`` lines.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import amisim
from aioami import FrameSplitter
from call_tracker.reducer import RawEntry
from call_tracker.reducer.topology import Topology
from call_tracker.testing import track_entries
from call_tracker.window import Window, replay_window
from cbstreams import connect
from cbstreams.localredis import local_redis_server

TOPOLOGY = Topology(pbx="bench")


def entries(n_events: int, seed: int) -> list[RawEntry]:
    """amisim's traffic, one frame per ms, ending an hour ago."""
    splitter = FrameSplitter(expect_banner=False)
    raw = [f.removesuffix(b"\r\n\r\n") for chunk in amisim.render_events(n_events, seed=seed)
           for f in splitter.feed(chunk)]  # fmt: skip
    start = int((time.time() - 3600) * 1_000_000) - len(raw) * 1000
    return [RawEntry(f"{i + 1}-0", f, start + i * 1000) for i, f in enumerate(raw)]


async def run(n_events: int) -> None:
    with local_redis_server() as url:
        redis = connect(url)
        try:
            window = entries(n_events, seed=7)
            started = time.perf_counter()
            await track_entries(redis, "cb:", window, TOPOLOGY)
            print(f"replay_live_tracking_s={time.perf_counter() - started:.1f}")
            started = time.perf_counter()
            result = await replay_window(redis, TOPOLOGY, Window(), prefix="cb:")
            elapsed = time.perf_counter() - started
        finally:
            await redis.aclose()
    print(f"replay_window_events={result.entries}")
    print(f"replay_calls_compared={len(result.stored)}")
    print(f"replay_diffs={len(result.diffs)}")
    print(f"replay_seconds={elapsed:.1f}")
    print(f"replay_events_per_s={result.entries / elapsed:.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=1_000_000)
    args = parser.parse_args()
    asyncio.run(run(args.events))


if __name__ == "__main__":
    main()
