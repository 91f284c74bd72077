"""NOTIFY bodies: dialog-info (RFC 4235), PIDF (RFC 3863, RPID RFC 4480 activities),
RLMI (RFC 4662) and the multipart/related container a resource list sends them in.

XML goes through defusedxml (no DTDs, no entity expansion); elements are matched by local
name so a server's namespace prefixes don't matter. Sizes and counts are bounded.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from .message import Headers, SipParseError, parse_params

__all__ = [
    "DialogInfo",
    "DialogState",
    "Part",
    "Pidf",
    "Rlmi",
    "RlmiResource",
    "parse_dialog_info",
    "parse_multipart",
    "parse_pidf",
    "parse_rlmi",
]

MAX_ELEMENTS = 2_000


def _xml(body: bytes) -> Element:
    if len(body) > 60_000:
        raise SipParseError("XML body over 60000 bytes")
    try:
        root: Element = SafeET.fromstring(body)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise SipParseError(f"bad XML body: {exc}") from exc
    if sum(1 for _ in root.iter()) > MAX_ELEMENTS:
        raise SipParseError(f"XML body with more than {MAX_ELEMENTS} elements")
    return root


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _children(el: Element, name: str) -> list[Element]:
    return [c for c in el if _local(c.tag) == name]


def _child(el: Element, name: str) -> Element | None:
    found = _children(el, name)
    return found[0] if found else None


def _version(text: str | None) -> int:
    if text is None or not text.strip().isdigit():
        raise SipParseError(f"bad version {text!r}")
    return int(text)


@dataclass(frozen=True, slots=True)
class DialogState:
    id: str
    state: str  # trying | proceeding | early | confirmed | terminated
    direction: str = ""  # initiator | recipient
    call_id: str = ""
    remote: str = ""  # the other party's URI
    remote_display: str = ""
    held: bool = False  # the local target says +sip.rendering=no


@dataclass(frozen=True, slots=True)
class DialogInfo:
    entity: str
    version: int
    full: bool
    dialogs: tuple[DialogState, ...]


def parse_dialog_info(body: bytes) -> DialogInfo:
    root = _xml(body)
    if _local(root.tag) != "dialog-info":
        raise SipParseError(f"expected dialog-info, got {_local(root.tag)!r}")
    dialogs: list[DialogState] = []
    for d in _children(root, "dialog"):
        state_el = _child(d, "state")
        remote_uri, remote_display, held = "", "", False
        remote = _child(d, "remote")
        if remote is not None:
            ident = _child(remote, "identity")
            if ident is not None:
                remote_uri = (ident.text or "").strip()
                remote_display = ident.get("display", "")
        local = _child(d, "local")
        target = _child(local, "target") if local is not None else None
        if target is not None:
            held = any(
                p.get("pname") == "+sip.rendering" and p.get("pvalue") == "no"
                for p in _children(target, "param")
            )
        dialogs.append(
            DialogState(
                id=d.get("id", ""),
                state=(state_el.text or "").strip() if state_el is not None else "",
                direction=d.get("direction", ""),
                call_id=d.get("call-id", ""),
                remote=remote_uri,
                remote_display=remote_display,
                held=held,
            )
        )
    return DialogInfo(
        entity=root.get("entity", ""),
        version=_version(root.get("version")),
        full=root.get("state", "full") == "full",
        dialogs=tuple(dialogs),
    )


@dataclass(frozen=True, slots=True)
class Pidf:
    entity: str
    basic: str  # open | closed | "" when absent
    note: str = ""
    activities: tuple[str, ...] = ()  # RPID: away, busy, on-the-phone, …
    #: Asterisk's presence state (``PRESENCE_STATE``: available, away, dnd, xa, chat,
    #: unavailable) and its message, sent in ``<digium_presence type=…>`` to subscribers
    #: whose User-Agent contains "digium" (res_pjsip_pidf_digium_body_supplement).
    presence_type: str = ""
    presence_message: str = ""


def parse_pidf(body: bytes) -> Pidf:
    root = _xml(body)
    if _local(root.tag) != "presence":
        raise SipParseError(f"expected presence, got {_local(root.tag)!r}")
    basic, notes, activities = "", [], []
    presence_type, presence_message = "", ""
    for el in root.iter():
        name = _local(el.tag)
        if name == "digium_presence":
            presence_type = el.get("type", "").strip().lower()
            presence_message = (el.text or "").strip()
        elif name == "basic" and not basic:
            basic = (el.text or "").strip()
        elif name == "note" and el.text and el.text.strip():
            notes.append(el.text.strip())
        elif name == "activities":
            activities += [_local(a.tag) for a in el if _local(a.tag) != "note"]
    return Pidf(
        entity=root.get("entity", ""),
        basic=basic,
        note=notes[0] if notes else "",
        activities=tuple(activities),
        presence_type=presence_type,
        presence_message=presence_message,
    )


@dataclass(frozen=True, slots=True)
class RlmiResource:
    uri: str
    state: str  # active | pending | terminated
    cid: str = ""
    reason: str = ""


@dataclass(frozen=True, slots=True)
class Rlmi:
    uri: str
    version: int
    full: bool
    resources: tuple[RlmiResource, ...]


def parse_rlmi(body: bytes) -> Rlmi:
    root = _xml(body)
    if _local(root.tag) != "list":
        raise SipParseError(f"expected rlmi list, got {_local(root.tag)!r}")
    resources = []
    for r in _children(root, "resource"):
        inst = _child(r, "instance")
        resources.append(
            RlmiResource(
                uri=r.get("uri", ""),
                state=inst.get("state", "") if inst is not None else "",
                cid=inst.get("cid", "") if inst is not None else "",
                reason=inst.get("reason", "") if inst is not None else "",
            )
        )
    return Rlmi(
        uri=root.get("uri", ""),
        version=_version(root.get("version")),
        full=root.get("fullState", "true").lower() == "true",
        resources=tuple(resources),
    )


@dataclass(frozen=True, slots=True)
class Part:
    headers: Headers
    body: bytes
    content_type: str = field(default="")
    content_id: str = field(default="")


def parse_multipart(body: bytes, content_type: str, *, max_parts: int = 512) -> list[Part]:
    """The parts of a ``multipart/related`` body (RFC 2046 §5.1); nested multiparts are
    returned as opaque parts."""
    params = parse_params(content_type.partition(";")[2])
    boundary = params.get("boundary", "")
    if not boundary or len(boundary) > 70:
        raise SipParseError("multipart body without a valid boundary")
    delim = b"--" + boundary.encode()
    chunks = body.split(delim)
    parts: list[Part] = []
    for chunk in chunks[1:]:
        if chunk.startswith(b"--"):
            break  # the close delimiter
        if len(parts) >= max_parts:
            raise SipParseError(f"more than {max_parts} parts in a multipart body")
        chunk = chunk.removeprefix(b"\r\n").removesuffix(b"\r\n")
        head, sep, content = chunk.partition(b"\r\n\r\n")
        if not sep:
            head, content = b"", chunk
        headers = Headers()
        for line in head.decode("utf-8", "replace").split("\r\n"):
            name, colon, value = line.partition(":")
            if colon:
                headers.add(name.strip(), value.strip())
        parts.append(
            Part(
                headers=headers,
                body=content,
                content_type=(headers.get("content-type") or "").split(";")[0].strip().lower(),
                content_id=(headers.get("content-id") or "").strip().strip("<>"),
            )
        )
    return parts
