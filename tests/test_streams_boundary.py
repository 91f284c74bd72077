"""cbstreams is the only code that writes, acknowledges or claims stream entries: no service
source calls XADD, XACK, XCLAIM or XAUTOCLAIM itself (issue 11). Each failure mode (outage,
crash, retry, dead letter) is then handled once, in cbstreams.GroupReader / StreamPublisher.
Tests may still write fixtures directly."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# a call, not a mention in prose: .xadd( / .xack( … or execute_command("XADD" …
CALL = re.compile(
    r"\.(xadd|xack|xclaim|xautoclaim)\s*\(|['\"](XADD|XACK|XCLAIM|XAUTOCLAIM)['\"]",
    re.IGNORECASE,
)


def test_no_service_source_calls_xadd_xack_xclaim_or_xautoclaim() -> None:
    sources = sorted(ROOT.glob("services/*/src/**/*.py"))
    assert len(sources) > 50  # the services are where we think they are
    offenders = [
        f"{path.relative_to(ROOT)}:{n}: {line.strip()}"
        for path in sources
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if CALL.search(line)
    ]
    assert offenders == []


def test_the_check_sees_each_form_of_call() -> None:
    calls = ['pipe.xadd(key, {})', 'await redis.xack(k, g, i)', 'r.xautoclaim(k, g, c, 0)',
             'pipe.execute_command("XADD", key, "*")', "execute_command('XCLAIM', k)"]  # fmt: skip
    assert all(CALL.search(c) for c in calls)
    assert not CALL.search('"""XADD ``events`` in the caller\'s pipeline."""')
