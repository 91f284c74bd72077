"""HTTP Digest for SIP (RFC 3261 §22, RFC 2617, RFC 8760 for SHA-256): answer a 401/407."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from .message import SipParseError, parse_params

__all__ = ["Challenge", "Credentials", "answer"]

_HASHES = {"MD5": "md5", "MD5-SESS": "md5", "SHA-256": "sha256", "SHA-256-SESS": "sha256"}


@dataclass(frozen=True, slots=True)
class Credentials:
    username: str
    password: str

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(username={self.username!r}, password=***)"


@dataclass(frozen=True, slots=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: tuple[str, ...] = ()
    opaque: str | None = None
    stale: bool = False

    @classmethod
    def parse(cls, header: str) -> Challenge:
        scheme, _, rest = header.strip().partition(" ")
        if scheme.lower() != "digest":
            raise SipParseError(f"unsupported auth scheme {scheme[:20]!r}")
        p = parse_params(rest)
        if "realm" not in p or "nonce" not in p:
            raise SipParseError("digest challenge without realm or nonce")
        algorithm = p.get("algorithm", "MD5").upper()
        if algorithm not in _HASHES:
            raise SipParseError(f"unsupported digest algorithm {algorithm[:20]!r}")
        qop = tuple(q.strip().lower() for q in p.get("qop", "").split(",") if q.strip())
        return cls(
            realm=p["realm"],
            nonce=p["nonce"],
            algorithm=algorithm,
            qop=qop,
            opaque=p.get("opaque"),
            stale=p.get("stale", "").lower() == "true",
        )


def _h(algorithm: str, text: str) -> str:
    return hashlib.new(_HASHES[algorithm], text.encode()).hexdigest()


def answer(
    challenge: Challenge,
    creds: Credentials,
    method: str,
    uri: str,
    *,
    nc: int = 1,
    cnonce: str | None = None,
) -> str:
    """The Authorization / Proxy-Authorization header value for one request."""
    alg = challenge.algorithm
    cnonce = cnonce or secrets.token_hex(8)
    ha1 = _h(alg, f"{creds.username}:{challenge.realm}:{creds.password}")
    if alg.endswith("-SESS"):
        ha1 = _h(alg, f"{ha1}:{challenge.nonce}:{cnonce}")
    ha2 = _h(alg, f"{method}:{uri}")
    fields = [
        f'username="{creds.username}"',
        f'realm="{challenge.realm}"',
        f'nonce="{challenge.nonce}"',
        f'uri="{uri}"',
    ]
    if "auth" in challenge.qop:
        count = f"{nc:08x}"
        response = _h(alg, f"{ha1}:{challenge.nonce}:{count}:{cnonce}:auth:{ha2}")
        fields += ["qop=auth", f"nc={count}", f'cnonce="{cnonce}"']
    else:
        response = _h(alg, f"{ha1}:{challenge.nonce}:{ha2}")
    fields += [f'response="{response}"', f"algorithm={alg}"]
    if challenge.opaque is not None:
        fields.append(f'opaque="{challenge.opaque}"')
    return "Digest " + ", ".join(fields)
