"""The chaos test, short form (``.ci/run`` runs it; ``bench/chaos.py`` is the long form): the
services as separate processes against the AMI simulator, every kind of fault (the ingest and
tracker kills twice) at a seeded random moment (``harness.FAULTS``), then every figure checked
against the simulator's truth.

One run serves every test of this module; each test asserts one outcome. An outcome not met
yet is a strict xfail saying what fails: it turns into a failure (XPASS) the day the work that
fixes it lands, and the mark must go."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from .harness import ChaosConfig, Report, run_chaos

pytestmark = [pytest.mark.timeout(170)]

#: Every kind of fault once, the ingest and tracker kills twice.
SHORT = ChaosConfig(calls=50, rate=2.5, faults=8, seed=7, settle_s=30.0)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Report:
    workdir: Path = tmp_path_factory.mktemp("chaos")

    def log(line: str) -> None:
        sys.stderr.write(f"chaos: {line}\n")

    result = asyncio.run(run_chaos(SHORT, workdir, log))
    for line in result.lines():
        sys.stderr.write(f"chaos: {line}\n")
    for name, entries in result.details.items():
        for entry in entries[:10]:
            sys.stderr.write(f"chaos: {name}: {entry}\n")
    return result


def test_every_kind_of_fault_ran(report: Report) -> None:
    kinds = " ".join(report.schedule)
    assert len(report.schedule) == SHORT.faults
    for word in ("ingest-", "tracker", "crm-sync-", "gateway", "drop_ami", "restart_redis"):
        assert word in kinds


def test_every_call_made_was_seen_or_unseeable(report: Report) -> None:
    # the traffic's calls and the click-to-calls the gateway got through to the PBX
    assert report.originates_queued >= 1
    assert report.calls_made >= SHORT.calls + 1
    assert report.calls_recorded + report.calls_lost + report.calls_unseen == report.calls_made
    assert report.calls_recorded > report.calls_made // 2


def test_no_call_is_recorded_twice(report: Report) -> None:
    assert report.calls_doubled == 0, report.details["calls_doubled"]


@pytest.mark.xfail(
    strict=True,
    reason="#11, still open with `tracker` and `resilience` merged: calls_lost is 0 but "
    "calls_wrong is not — calls around an AMI gap come out missed instead of answered, "
    "with the wrong answerer after a transfer, or with ring/talk times off by the gap",
)
def test_every_call_is_recorded_with_the_right_result_and_durations(report: Report) -> None:
    assert report.calls_lost == 0, report.details["calls_lost"]
    assert report.calls_wrong == 0, report.details["calls_wrong"]


def test_every_call_is_logged_once_in_the_crm(report: Report) -> None:
    assert report.crm_doubled == 0, report.details["crm_doubled"]
    assert report.crm_missing == 0, report.details["crm_missing"]


def test_no_live_call_is_left_open(report: Report) -> None:
    assert report.live_left_open == 0


def test_no_card_is_left_open_or_shown_twice(report: Report) -> None:
    assert report.feed_resumes > 0  # the gateway was killed under them
    assert report.cards_left_open == 0, report.details["cards_left_open"]
    assert report.cards_shown_twice == 0


def test_nothing_is_pending_and_nothing_dead(report: Report) -> None:
    assert report.pending_left == 0
    assert report.dead_letters == 0


def test_every_feed_gap_is_marked(report: Report) -> None:
    assert report.feed_gaps_unmarked == 0, report.details["feed_gaps_unmarked"]


def test_no_service_exits_on_its_own(report: Report) -> None:
    assert report.service_exits == 0, report.details["service_exits"]


def test_memory_stays_bounded(report: Report) -> None:
    assert report.rss_growth_pct_max < 100  # a short run still warms up; bench/chaos.py measures
