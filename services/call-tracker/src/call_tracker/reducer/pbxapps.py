"""Calls the PBX itself answers: an IVR menu, a voice bot (AGI), voicemail.

The caller's channel going Up with no person on the call (``dialing.on_newstate`` sets
``pbx_up_at``) and a ``Newexten`` running one of the applications below on a channel of the
call that is not a dialled party (the caller's, or a Local channel's) name the outcome. The
last application seen wins; ``results.outcome_of`` uses it only if it ran after the last ring
(or nobody rang): an IVR that then rang operators who did not answer is a missed call,
voicemail after the ring timeout is ``voicemail``.

Newexten is frequent: ``dispatch`` parses one only if its frame names an application here.
"""

from __future__ import annotations

from aioami import Message

from .emit import Ctx
from .legs import find_leg, hdr
from .topology import KIND_LOCAL

__all__ = ["APPS", "NEEDS", "on_newexten"]

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
}
#: Byte strings one of which a Newexten frame must contain to be parsed.
NEEDS: tuple[bytes, ...] = (
    b"\r\nApplication: VoiceMail\r\n",
    b"\r\nApplication: AGI\r\n",
    b"\r\nApplication: EAGI\r\n",
    b"\r\nApplication: BackGround\r\n",
    b"\r\nApplication: Background\r\n",
    b"\r\nApplication: Read\r\n",
    b"\r\nApplication: WaitExten\r\n",
    b"\r\nApplication: Playback\r\n",
    b"\r\nApplication: IVRDemo\r\n",
)


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
    call.pbx_app, call.pbx_kind, call.pbx_app_at = app, kind, ctx.at
