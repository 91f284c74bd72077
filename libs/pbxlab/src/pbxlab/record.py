"""Record the scenario matrix as fixtures: ``python -m pbxlab.record OUTDIR``.

For each Asterisk version (``--version 22 --version 20 --version 20-pjsip``; default all:
20 runs chan_sip phones, 20-pjsip a subset with PJSIP phones) every scenario (or
those named with ``--only``) runs on lab PBXs (``--lanes`` per version, scenarios of a lane
one after another), and each one's AMI stream is written in the capture format to
``OUTDIR/ast<version>/<scenario>.ami`` (+ ``.times.jsonl``, ``.chunks.jsonl``), with
``OUTDIR/ast<version>/truth.json``: per scenario its description, the calls it must give,
the Linkedids it made, Asterisk's CDRs and the known tracker gap. Scenarios recorded before
and not run now keep their truth. ``PBXLAB_WORKDIR`` keeps the labs' files (logs, sipp).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from .matrix import Run
from .runner import run_matrix

VARIANTS = ("22", "20", "20-pjsip")


def write_truth(out: Path, runs: Sequence[Run]) -> None:
    """Merge the runs' truth into ``out/ast<version>/truth.json`` (failed runs left out)."""
    for version in sorted({r.version for r in runs}):
        path = out / f"ast{version}" / "truth.json"
        truth = json.loads(path.read_text()) if path.exists() else {}
        for run in runs:
            if run.version == version and not run.error:
                truth[run.scenario] = run.as_json()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(dict(sorted(truth.items())), indent=1) + "\n")


def _say(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


async def record(out: Path, versions: Sequence[str], only: Sequence[str], lanes: int) -> int:
    t0 = time.monotonic()

    def report(run: Run) -> None:
        state = f"ERROR {run.error}" if run.error else "ok"
        _say(f"{run.lane} {run.scenario}: {run.ended - run.started:.1f}s {state}")

    keep = os.environ.get("PBXLAB_WORKDIR")
    with tempfile.TemporaryDirectory(prefix="pbxlab-") as tmp:
        work = Path(keep or tmp)
        runs = await run_matrix(versions, work, out=out, only=only, lanes=lanes, on_run=report)
    write_truth(out, runs)
    failed = [r for r in runs if r.error]
    _say(f"recorded {len(runs)} runs in {time.monotonic() - t0:.1f}s; {len(failed)} failed")
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pbxlab.record", description=__doc__)
    parser.add_argument("out", type=Path, help="fixture directory (ast22/, ast20/ inside)")
    parser.add_argument("--version", action="append", choices=VARIANTS, dest="versions")
    parser.add_argument("--only", action="append", default=[], help="a scenario name")
    parser.add_argument("--lanes", type=int, default=2, help="lab PBXs per version")
    args = parser.parse_args(argv)
    return asyncio.run(record(args.out, args.versions or list(VARIANTS), args.only, args.lanes))


if __name__ == "__main__":
    sys.exit(main())
