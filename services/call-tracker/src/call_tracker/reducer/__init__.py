"""The reducer: ``reduce(state, entry) -> (state, call events)``, pure (no I/O, no clock).

Its rules, one module each: ``legs`` (who a channel is, who called), ``dialing`` (ring, stop,
answer), ``queues``, ``originate`` (click-to-call), ``pickup``, ``transfers`` (and hold),
``pbxapps`` (calls the PBX itself answers: IVR, bot, voicemail), ``results`` (the end of a
call: outcome, durations), ``sync`` (reconciling with a reconnect snapshot), ``recording``.
``dispatch`` maps AMI event names to them; ``model`` and ``topology`` are the data.
A test fails if anything here imports I/O.
"""

from .dispatch import SYNC_EVENT, RawEntry, new_state, reduce
from .model import Call, Leg, TrackerState, decode_call, encode_call, entry_key
from .topology import Topology

__all__ = [
    "SYNC_EVENT",
    "Call",
    "Leg",
    "RawEntry",
    "Topology",
    "TrackerState",
    "decode_call",
    "encode_call",
    "entry_key",
    "new_state",
    "reduce",
]
