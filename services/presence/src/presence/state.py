"""What the PBX told us about each extension, and the line state that follows (pure).

Facts arrive as NOTIFY bodies: dialog-info (calls: ringing, confirmed, held) and PIDF
(registered or not, and Asterisk's presence state: dnd, away…). A body older than one
already applied (its ``version`` is not above the last one of the same subscription) is
ignored — UDP may reorder NOTIFYs. The state is decided in one place, `line_state`:
a call beats everything (in_call > on_hold > ringing), then unavailable, dnd, away, idle.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from cbcontracts.presence import LineState, PresenceState
from cbsip import DialogInfo, DialogState, Pidf, uri_user

__all__ = ["ExtensionFacts", "PresenceBook", "line_state"]

_RINGING = {"trying", "proceeding", "early"}
_AWAY = {"away", "xa"}


@dataclass(slots=True)
class ExtensionFacts:
    dialogs: dict[str, DialogState] = field(default_factory=dict)
    pidf: Pidf | None = None
    seen_dialog: bool = False
    #: The event packages heard from (or refused) at least once: nothing is published
    #: before every watched package has spoken, so a first dialog NOTIFY ("terminated")
    #: does not show "idle" for a phone the presence NOTIFY then says is unregistered.
    heard: set[str] = field(default_factory=set)
    #: (subscription dialog id, event) -> the last body version applied from it.
    versions: dict[tuple[str, str], int] = field(default_factory=dict)
    refused: bool = False


def line_state(f: ExtensionFacts) -> tuple[LineState, DialogState | None]:
    live = [d for d in f.dialogs.values() if d.state != "terminated"]
    talking = [d for d in live if d.state == "confirmed"]
    if talking:
        active = [d for d in talking if not d.held]
        return ("in_call", active[0]) if active else ("on_hold", talking[0])
    ringing = [d for d in live if d.state in _RINGING]
    if ringing:
        return "ringing", ringing[0]
    p = f.pidf
    if p is not None:
        if p.basic == "closed" or p.presence_type == "unavailable":
            return "unavailable", None
        if p.presence_type == "dnd":
            return "dnd", None
        if p.presence_type in _AWAY:
            return "away", None
    if p is None and not f.seen_dialog:
        return "unknown", None
    return "idle", None


class PresenceBook:
    """The facts and the last published state of every watched extension of one PBX."""

    def __init__(self, pbx: str, events: tuple[str, ...] = ("dialog", "presence")) -> None:
        self.pbx = pbx
        self.events = frozenset(events)
        self.facts: dict[str, ExtensionFacts] = {}
        self.published: dict[str, PresenceState] = {}
        self._list_versions: dict[tuple[str, str], int] = {}

    def _facts(self, ext: str) -> ExtensionFacts:
        return self.facts.setdefault(ext, ExtensionFacts())

    def _fresh(self, f: ExtensionFacts, sub: str, event: str, version: int, full: bool) -> bool:
        return _newer(f.versions, (sub, event), version, full)

    def apply_dialog(self, ext: str, sub: str, info: DialogInfo) -> bool:
        f = self._facts(ext)
        if not self._fresh(f, sub, "dialog", info.version, info.full):
            return False
        before = f.dialogs
        f.dialogs = {} if info.full else dict(before)
        for d in info.dialogs:
            f.dialogs[d.id] = _keep_parties(d, before.get(d.id))
        f.dialogs = {k: d for k, d in f.dialogs.items() if d.state != "terminated"}
        f.seen_dialog, f.refused = True, False
        f.heard.add("dialog")
        return True

    def apply_pidf(self, ext: str, pidf: Pidf) -> bool:
        """PIDF carries no version: the last one to arrive is the state."""
        f = self._facts(ext)
        f.pidf, f.refused = pidf, False
        f.heard.add("presence")
        return True

    def apply_list_version(self, sub: str, version: int, full: bool) -> bool:
        """True if a resource list NOTIFY of ``version`` is newer than the last applied."""
        return _newer(self._list_versions, (sub, "list"), version, full)

    def forget(self, ext: str, event: str) -> None:
        """The PBX stopped telling us about ``ext`` for ``event`` (resource terminated)."""
        f = self._facts(ext)
        f.heard.add(event)
        if event == "dialog":
            f.dialogs, f.seen_dialog = {}, False
        else:
            f.pidf = None

    def change(self, ext: str, now_ms: int) -> PresenceState | None:
        """The new state of ``ext`` if it differs from the last one published, else None."""
        facts = self._facts(ext)
        if not self.events <= facts.heard:
            return None
        state, dialog = line_state(facts)
        pidf = facts.pidf
        before = self.published.get(ext)
        remote = uri_user(dialog.remote) if dialog and dialog.remote else ""
        direction = ""
        if dialog is not None and dialog.direction:
            direction = "inbound" if dialog.direction == "recipient" else "outbound"
        new = PresenceState(
            pbx=self.pbx,
            extension=ext,
            state=state,
            since=before.since if before is not None and before.state == state else now_ms,
            at=now_ms,
            call_id=dialog.call_id if dialog else "",
            remote=remote or (dialog.remote if dialog else ""),
            remote_name=dialog.remote_display if dialog else "",
            direction=direction,
            message=pidf.presence_message if pidf is not None else "",
        )
        if before is not None and _same(before, new):
            return None
        self.published[ext] = new
        return new


def _keep_parties(d: DialogState, before: DialogState | None) -> DialogState:
    """Asterisk names the other party only while a dialog rings; once it is confirmed the
    body has just the state. Keep who it was (and the direction) for the same dialog."""
    if before is None or d.remote or not before.remote:
        return d
    return replace(
        d,
        remote=before.remote,
        remote_display=before.remote_display,
        direction=d.direction or before.direction,
        call_id=d.call_id or before.call_id,
    )


def _newer(
    last: dict[tuple[str, str], int], key: tuple[str, str], version: int, full: bool
) -> bool:
    """Ordering by body version: older or repeated versions are dropped, except a full
    state at version 0 — a server that restarted keeps our subscription dialog (Asterisk
    persists subscriptions) but counts its versions from 0 again."""
    before = last.get(key)
    if before is not None and version <= before and not (full and version == 0):
        return False
    last[key] = version
    return True


def _same(a: PresenceState, b: PresenceState) -> bool:
    return (a.state, a.call_id, a.remote, a.remote_name, a.direction, a.message) == (
        b.state, b.call_id, b.remote, b.remote_name, b.direction, b.message
    )  # fmt: skip
