"""Addresses in From/To/Contact (``"Bob" <sip:101@pbx>;tag=x``) and the user part of a URI."""

from __future__ import annotations

from dataclasses import dataclass, field

from .message import SipParseError, parse_params

__all__ = ["NameAddr", "uri_user"]


@dataclass(frozen=True, slots=True)
class NameAddr:
    uri: str
    display: str = ""
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> NameAddr:
        text = text.strip()
        if "<" in text:
            lt = text.index("<")
            gt = text.find(">", lt)
            if gt < 0:
                raise SipParseError(f"unclosed '<' in address {text[:40]!r}")
            display = text[:lt].strip().strip('"')
            uri, rest = text[lt + 1 : gt], text[gt + 1 :]
        else:  # addr-spec form: parameters after the URI belong to the header
            uri, _, rest = text.partition(";")
            display, rest = "", ";" + rest if rest else ""
        if not uri:
            raise SipParseError("empty URI in address")
        return cls(uri=uri, display=display, params=parse_params(rest))

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def with_tag(self, tag: str) -> NameAddr:
        return NameAddr(self.uri, self.display, {**self.params, "tag": tag})

    def __str__(self) -> str:
        shown = f'"{self.display}" ' if self.display else ""
        params = "".join(f";{k}={v}" if v else f";{k}" for k, v in self.params.items())
        return f"{shown}<{self.uri}>{params}"


def uri_user(uri: str) -> str:
    """``sip:101@pbx;transport=udp`` -> ``101`` (empty when the URI has no user part)."""
    rest = uri.split(":", 1)[1] if ":" in uri else uri
    user, at, _ = rest.partition("@")
    return user.split(";", 1)[0] if at else ""
