"""The public API of amisim is pinned: changing it is a deliberate act."""

from __future__ import annotations

import amisim


def test_public_api_is_pinned() -> None:
    assert sorted(amisim.__all__) == sorted(
        [
            "OUTCOMES",
            "Outcome",
            "PlayedCall",
            "SCENARIOS",
            "Call",
            "Capture",
            "CaptureResult",
            "LiveChannel",
            "PbxError",
            "Simulator",
            "Template",
            "TrafficConfig",
            "TrafficGenerator",
            "blast",
            "blast_chunks",
            "capture",
            "load_template",
            "render_call",
            "render_events",
            "template_names",
        ]
    )


def test_bundled_scenarios_cover_every_capture_kind_and_the_composed_calls() -> None:
    assert amisim.template_names() == [
        "attended_transfer_ami",
        "blind_transfer_ami",
        "click_to_call",
        "dial_timeout",
        "hold",
        "inbound_answered",
        "inbound_busy",
        "inbound_group",
        "inbound_missed",
        "inbound_queue",
        "internal",
        "outbound",
        "pickup",
        "queue_abandon",
        "redirect_transfer",
        "registration",
    ]


def test_every_call_scenario_is_in_the_default_mix() -> None:
    assert set(amisim.SCENARIOS) == set(amisim.template_names()) - {"registration"}
