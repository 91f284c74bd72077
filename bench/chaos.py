"""The chaos test, long form: at least 1,000 mixed calls (inbound, ring group, queue,
transfers, click-to-call, internal, hold, pickup …) through the suite run as separate processes
(two ami-ingest replicas, call-tracker, two crm-sync, the api-gateway with operator and
integrator WebSockets) against the AMI simulator, while faults strike at seeded random moments:
SIGKILL of the active ingest replica, call-tracker, a crm-sync, the gateway; the AMI connection
dropped; Redis (AOF) restarted. Prints ``name=value`` figures checked against the simulator's
truth, then the fault schedule (``fault=…`` lines). The harness is ``tests/chaos/harness.py``.

    uv run python bench/chaos.py [--calls 1000] [--faults 25] [--seed 1] [--rate 4]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests.chaos

from tests.chaos.harness import ChaosConfig, run_chaos


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--faults", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rate", type=float, default=4.0, help="calls started per second")
    parser.add_argument("--speed", type=float, default=4.0, help="times faster than the captures")
    parser.add_argument("--concurrency", type=int, default=24)
    parser.add_argument("--settle", type=float, default=90.0, help="deadline per closing check")
    parser.add_argument("--workdir", type=Path, default=None, help="keep logs and configs here")
    args = parser.parse_args()
    config = ChaosConfig(
        calls=args.calls,
        rate=args.rate,
        speed=args.speed,
        concurrency=args.concurrency,
        faults=args.faults,
        seed=args.seed,
        settle_s=args.settle,
    )
    t0 = time.monotonic()

    def log(line: str) -> None:
        print(f"# {time.monotonic() - t0:6.1f}s {line}", file=sys.stderr, flush=True)

    with tempfile.TemporaryDirectory(prefix="cb-chaos-") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        report = asyncio.run(run_chaos(config, workdir, log))
    for line in report.lines():
        print(line)
    print(f"seconds={time.monotonic() - t0:.0f}")
    for name, entries in report.details.items():
        for entry in entries[:20]:
            print(f"# {name}: {entry}", file=sys.stderr)


if __name__ == "__main__":
    main()
