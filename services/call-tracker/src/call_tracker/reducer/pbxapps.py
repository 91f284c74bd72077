"""Calls the PBX itself answers: an IVR menu, a voice bot (AGI), voicemail, a conference.

The caller's channel going Up with no person on the call (``dialing.on_newstate`` sets
``pbx_up_at``) and a ``Newexten`` running one of the applications below on a channel of the
call that is not a dialled party (the caller's, or a Local channel's) name the outcome. The
last kind seen wins (``pbx_app``: the first application of that kind, e.g. the IVR's menu,
not its closing beep); ``results.outcome_of`` uses it only if it ran after the last ring (or
nobody rang): an IVR that then rang operators who did not answer is a missed call, voicemail
after the ring timeout is ``voicemail``.

Newexten is frequent: ``dispatch`` parses one only if ``wanted`` (its application is here).
"""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .legs import find_leg, hdr
from .topology import KIND_LOCAL

__all__ = ["APPS", "on_newexten", "wanted"]

#: Dialplan application (lower case) -> the outcome it gives a call the PBX answered.
APPS: dict[str, str] = {
    "voicemail": "voicemail",
    "agi": "bot",
    "eagi": "bot",
    "fastagi": "bot",
    "background": "ivr",
    "read": "ivr",
    "waitexten": "ivr",
    "playback": "ivr",
    "ivrdemo": "ivr",
    "confbridge": "conference",
    "meetme": "conference",
}
_APP = b"\r\nApplication: "
_WANTED = frozenset(app.encode() for app in APPS)


def wanted(raw: bytes) -> bool:
    """Whether a Newexten frame runs one of ``APPS`` (one search, no parsing)."""
    at = raw.find(_APP)
    if at < 0:
        return False
    at += len(_APP)
    end = raw.find(b"\r\n", at)
    return raw[at : end if end >= 0 else len(raw)].lower() in _WANTED


def on_newexten(ctx: Ctx, m: Message) -> None:
    app = hdr(m, "Application")
    kind = APPS.get(app.lower())
    if kind is None:
        return
    found = find_leg(ctx, m, create=False)
    if found is None:
        return
    call, leg = found
    if call.answer_at or (leg.uid != call.linkedid and leg.kind != KIND_LOCAL):
        return
    new_phase = not call.pbx_kind or call.pbx_app_at < call.ring_end_at
    if new_phase:
        call.pbx_from = ctx.at  # the PBX's handling (after the last ring) begins
    if new_phase or kind != call.pbx_kind:
        call.pbx_app = app  # the first application of its kind: the menu, not the last beep
    call.pbx_kind, call.pbx_app_at = kind, ctx.at
