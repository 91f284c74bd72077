"""Key names. Every key of a PBX carries the Redis Cluster hash tag ``{pbx}``, so all of
them live in one slot; a configurable prefix (``cb:`` by default) fronts every key."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_PREFIX", "PbxKeys", "lane_stream"]

DEFAULT_PREFIX = "cb:"


def lane_stream(stream: str, lane: str) -> str:
    """The stream of one priority ``lane`` of a command stream: ``cb:crm:commands`` →
    ``cb:crm:commands:cards``; the empty lane is the stream itself."""
    return f"{stream}:{lane}" if lane else stream


@dataclass(frozen=True, slots=True)
class PbxKeys:
    """The keys of one PBX, e.g. ``PbxKeys("main").ami == "cb:{main}:ami"``."""

    pbx: str
    prefix: str = DEFAULT_PREFIX

    def __post_init__(self) -> None:
        if not self.pbx or any(c in self.pbx for c in "{}: \t\r\n"):
            raise ValueError(f"bad PBX name {self.pbx!r}: non-empty, no braces, colons, spaces")

    @property
    def base(self) -> str:
        return f"{self.prefix}{{{self.pbx}}}"

    @property
    def ami(self) -> str:
        """Raw AMI frames and sync entries (stream)."""
        return f"{self.base}:ami"

    @property
    def actions(self) -> str:
        """Action requests for the PBX (stream)."""
        return f"{self.base}:actions"

    @property
    def presence(self) -> str:
        """Extension line states as they change (stream; written by presence)."""
        return f"{self.base}:presence"

    @property
    def presence_view(self) -> str:
        """The latest line state of every watched extension (hash: extension -> JSON)."""
        return f"{self.base}:presence:view"

    @property
    def sess(self) -> str:
        """Counter of AMI connections made to the PBX; each one's number is its ``sess``."""
        return f"{self.base}:ami:sess"

    def lease(self, role: str = "ingest") -> str:
        """The lease naming the active replica of ``role`` for this PBX (string)."""
        return f"{self.base}:lease:{role}"

    def reply(self, action_id: str) -> str:
        """The list an action's reply is pushed to."""
        return f"{self.base}:reply:{action_id}"

    def action_marker(self, action_id: str) -> str:
        """Set when execution of an action starts, so that it is never executed twice."""
        return f"{self.base}:action:{action_id}"
