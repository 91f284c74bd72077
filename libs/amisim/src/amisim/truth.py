"""The truth of the calls the simulator played: how each scenario ends (``OUTCOMES``, as its
capture shows) and, per call played to its end, what a call-tracker must record
(``PlayedCall``; ``Pbx.played`` keeps them)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from .calls import Call

__all__ = ["OUTCOMES", "Outcome", "PlayedCall", "played_call"]


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a scenario's call ends, as its capture shows (``captures/EXPECTED.json`` and the
    timing of the capture): result, direction, who answered (a placeholder: ``ext1``,
    ``ext2``, ``phone``; empty if nobody), ring and talk seconds at speed 1."""

    result: str
    direction: str
    answered_by: str
    ring_s: float
    talk_s: float


#: The truth of every traffic scenario (what a call-tracker must conclude from a whole call).
OUTCOMES: Mapping[str, Outcome] = {
    "inbound_answered": Outcome("answered", "inbound", "ext1", 2, 3),
    "inbound_missed": Outcome("missed", "inbound", "", 6, 0),
    "inbound_busy": Outcome("busy", "inbound", "", 0, 0),
    "inbound_group": Outcome("answered", "inbound", "ext2", 2, 3),
    "inbound_queue": Outcome("answered", "inbound", "ext2", 3, 3),
    "outbound": Outcome("answered", "outbound", "phone", 2, 3),
    "click_to_call": Outcome("answered", "outbound", "phone", 2, 3),
    "blind_transfer_ami": Outcome("answered", "inbound", "ext1", 2, 10),
    "attended_transfer_ami": Outcome("answered", "inbound", "ext1", 2, 20),
    "internal": Outcome("answered", "internal", "ext2", 2, 4),
    "hold": Outcome("answered", "inbound", "ext1", 2, 7),
    "dial_timeout": Outcome("missed", "inbound", "", 20, 0),
    "queue_abandon": Outcome("abandoned", "inbound", "", 8, 0),
    "redirect_transfer": Outcome("answered", "inbound", "ext1", 2, 10),
    "pickup": Outcome("answered", "inbound", "ext2", 3, 6),
}


@dataclass(frozen=True, slots=True)
class PlayedCall:
    """A call the generator played, and how it must be recorded: ``call_id`` (its Linkedid),
    wall-clock start and end (unix s), and the expected outcome with durations at the speed
    it was played."""

    scenario: str
    call_id: str
    values: Mapping[str, str]
    started_at: float
    ended_at: float
    speed: float
    result: str
    direction: str
    answered_by: str
    ring_s: float
    talk_s: float
    #: An action (Hangup, Redirect, BlindTransfer) changed the call: the scenario's outcome
    #: is not its truth.
    altered: bool = False


def played_call(call: Call, started_at: float, ended_at: float) -> PlayedCall | None:
    """The truth of ``call`` (None for a template that is no call, e.g. ``registration``)."""
    outcome = OUTCOMES.get(call.template.name)
    if outcome is None:
        return None
    speed = call.speed
    scale = 1.0 / speed if speed else 0.0  # speed 0: no waiting, no duration
    return PlayedCall(
        scenario=call.template.name,
        call_id=call.values["linkedid"],
        values=dict(call.values),
        started_at=started_at,
        ended_at=ended_at,
        speed=speed,
        result=outcome.result,
        direction=outcome.direction,
        answered_by=call.values.get(outcome.answered_by, "") if outcome.answered_by else "",
        ring_s=outcome.ring_s * scale,
        talk_s=outcome.talk_s * scale,
        altered=call.altered,
    )
