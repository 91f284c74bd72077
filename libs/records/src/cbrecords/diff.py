"""Field-level differences between two sets of call records (stored vs replayed)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from cbcontracts import CallRecord

__all__ = ["IGNORED", "FieldDiff", "diff_records"]

#: Fields that name where a record came from rather than what the call was (``event_id``:
#: the stream entry that ended it); a replay of the same entries keeps them, an imported
#: capture does not.
IGNORED = frozenset({"event_id"})


class FieldDiff(msgspec.Struct, frozen=True, kw_only=True):
    """One difference: ``field`` of call ``call_id``; ``field`` = ``"*"`` when the call is
    on one side only (then ``stored`` / ``replayed`` say ``"present"`` or ``None``)."""

    pbx: str
    call_id: str
    field: str
    stored: Any
    replayed: Any


def _fields(record: CallRecord) -> dict[str, Any]:
    out = msgspec.to_builtins(msgspec.structs.asdict(record))
    assert isinstance(out, dict)  # noqa: S101 - asdict gives a dict
    return out


def diff_records(
    stored: Iterable[CallRecord],
    replayed: Iterable[CallRecord],
    *,
    ignore: frozenset[str] = IGNORED,
) -> list[FieldDiff]:
    """Every field that differs, per call (ordered by stored start time, then call id)."""
    a = {(r.pbx, r.call_id): r for r in stored}
    b = {(r.pbx, r.call_id): r for r in replayed}

    def order(key: tuple[str, str]) -> tuple[int, str, str]:
        r = a.get(key) or b[key]
        return r.started_at, key[0], key[1]

    out: list[FieldDiff] = []
    for key in sorted(a.keys() | b.keys(), key=order):
        pbx, call_id = key
        left, right = a.get(key), b.get(key)
        if left is None or right is None:
            out.append(FieldDiff(pbx=pbx, call_id=call_id, field="*",
                                 stored="present" if left else None,
                                 replayed="present" if right else None))  # fmt: skip
            continue
        lf, rf = _fields(left), _fields(right)
        for name in lf:
            if name not in ignore and lf[name] != rf[name]:
                out.append(FieldDiff(pbx=pbx, call_id=call_id, field=name,
                                     stored=lf[name], replayed=rf[name]))  # fmt: skip
    return out
