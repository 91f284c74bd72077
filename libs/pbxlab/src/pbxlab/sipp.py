"""SIP phones and trunks played by sipp against a lab Asterisk.

A :class:`Phone` is one SIP account (PJSIP ``1XX`` or chan_sip ``2XX``, password
``pass<ext>``); a :class:`Trunk` is the provider (inbound INVITEs carry ``X-Lab-Trunk: yes``;
outbound calls arrive at ``Asterisk.ports["TRUNK_PORT"]``). Each call is one sipp process
running a scenario generated here from a few steps:

* as UAS (``phone.answer(...)``, ``.busy()``, ``.reject()``, ``.ring()``): ring, then answer
  after ``ring`` seconds / 486 / 603 / ring until the PBX cancels;
* as UAC (``phone.call(number, ...)``, ``trunk.call(caller, did, ...)``): dial, then the
  final response expected (``answer=True`` / ``False`` = any failure / a ``cancel`` after
  seconds);
* after the answer, ``then``: :class:`Talk` (seconds), :class:`Dtmf` (SIP INFO digits, e.g.
  ``##101`` for a blind transfer), :class:`Hold`, :class:`Refer` (blind transfer by REFER),
  and finally :class:`Hangup` (send BYE) or :class:`AwaitBye` (the default when the last
  step is not a hangup).

``run = phone.answer(ring=2)`` starts sipp and returns a :class:`Sipp`; ``await run.ready()``
waits until it listens, ``await run.done()`` until the scenario ended (``SippError`` with its
log otherwise). sipp answers INFO/NOTIFY/OPTIONS/UPDATE itself (``-aa``).
"""

from __future__ import annotations

import asyncio
import itertools
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from .asterisk import Asterisk, free_port

__all__ = [
    "AwaitBye",
    "Dtmf",
    "Hangup",
    "Hold",
    "Phone",
    "Refer",
    "Sipp",
    "SippError",
    "Step",
    "Talk",
    "Trunk",
]

_counter = itertools.count(1)


class SippError(RuntimeError):
    """A sipp scenario did not complete as written."""


@dataclass(frozen=True, slots=True)
class Talk:
    seconds: float


@dataclass(frozen=True, slots=True)
class Dtmf:
    """Digits as SIP INFO (application/dtmf-relay), ``gap`` seconds apart."""

    digits: str
    gap: float = 0.25


@dataclass(frozen=True, slots=True)
class Hold:
    """re-INVITE sendonly, ``seconds`` on hold, re-INVITE sendrecv."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Refer:
    """REFER to ``target`` (blind transfer); the PBX then hangs up this leg (BYE)."""

    target: str


@dataclass(frozen=True, slots=True)
class Hangup:
    """Send BYE."""


@dataclass(frozen=True, slots=True)
class AwaitBye:
    """Wait for the PBX's BYE (up to ``timeout`` s)."""

    timeout: float = 60.0


Step = Talk | Dtmf | Hold | Refer | Hangup | AwaitBye

_SDP = """v=0
o=lab 1 {v} IN IP4 [local_ip]
s=-
c=IN IP4 [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 8
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a={mode}"""


def _msg(text: str) -> str:
    return f'  <send retrans="500"><![CDATA[\n\n{text}\n\n]]></send>\n'


def _resp(text: str) -> str:
    return f"  <send><![CDATA[\n\n{text}\n\n]]></send>\n"


def _body(lines: Sequence[str], sdp: str | None = None) -> str:
    head = "\n".join(lines)
    if sdp is None:
        return head + "\nContent-Length: 0"
    return head + "\nContent-Type: application/sdp\nContent-Length: [len]\n\n" + sdp


@dataclass(slots=True)
class _Dialog:
    """Writes in-dialog requests for one side (``me``: our From/To header value)."""

    me: str  # e.g. <sip:100@[remote_ip]:[remote_port]>;tag=...
    user: str
    cseq: int = 10

    def request(
        self,
        method: str,
        extra: Sequence[str] = (),
        sdp: str | None = None,
        body: tuple[str, str] | None = None,
    ) -> str:
        self.cseq += 1
        lines = [
            f"{method} [$rc] SIP/2.0",
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            f"From: {self.me}",
            "To: [$peer]",
            "Call-ID: [call_id]",
            f"CSeq: {self.cseq} {method}",
            f"Contact: <sip:{self.user}@[local_ip]:[local_port]>",
            "Max-Forwards: 70",
            *extra,
        ]
        if body is not None:
            kind, text = body
            lines += [f"Content-Type: {kind}", "Content-Length: [len]", "", text]
            return _msg("\n".join(lines))
        return _msg(_body(lines, sdp))

    def ack(self) -> str:
        lines = [
            "ACK [$rc] SIP/2.0",
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            f"From: {self.me}",
            "To: [$peer]",
            "Call-ID: [call_id]",
            f"CSeq: {self.cseq} ACK",
            "Max-Forwards: 70",
        ]
        return _resp(_body(lines))


_OK_TO_REQUEST = _resp(
    _body(
        [
            "SIP/2.0 200 OK",
            "[last_Via:]",
            "[last_From:]",
            "[last_To:]",
            "[last_Call-ID:]",
            "[last_CSeq:]",
        ]
    )
)

_FAILURES = (403, 404, 408, 480, 481, 484, 486, 487, 488, 500, 503, 600, 603)


def _after_answer(dialog: _Dialog, steps: Sequence[Step]) -> str:
    xml = ""
    ends = False
    for n, step in enumerate(steps):
        if isinstance(step, Talk):
            xml += f'  <pause milliseconds="{int(step.seconds * 1000)}"/>\n'
        elif isinstance(step, Dtmf):
            for digit in step.digits:
                relay = ("application/dtmf-relay", f"Signal={digit}\nDuration=160")
                xml += dialog.request("INFO", body=relay)
                xml += '  <recv response="200"/>\n'
                xml += f'  <pause milliseconds="{int(step.gap * 1000)}"/>\n'
        elif isinstance(step, Hold):
            for mode in ("sendonly", "sendrecv"):
                xml += dialog.request("INVITE", (), _SDP.format(v=2 + n, mode=mode))
                xml += '  <recv response="100" optional="true"/>\n'
                xml += '  <recv response="200"/>\n'
                xml += dialog.ack()
                if mode == "sendonly":
                    xml += f'  <pause milliseconds="{int(step.seconds * 1000)}"/>\n'
        elif isinstance(step, Refer):
            xml += dialog.request(
                "REFER",
                [
                    f"Refer-To: <sip:{step.target}@[remote_ip]:[remote_port]>",
                    f"Referred-By: <sip:{dialog.user}@[remote_ip]:[remote_port]>",
                ],
            )
            xml += '  <recv response="202"/>\n'
            xml += _await_bye(60.0)
            ends = True
            break
        elif isinstance(step, Hangup):
            xml += dialog.request("BYE")
            xml += '  <recv response="200" crlf="true"/>\n'
            ends = True
            break
        elif isinstance(step, AwaitBye):
            xml += _await_bye(step.timeout)
            ends = True
            break
    if not ends:
        xml += _await_bye(60.0)
    return xml


def _await_bye(timeout: float) -> str:
    return f'  <recv request="BYE" timeout="{int(timeout * 1000)}"/>\n' + _OK_TO_REQUEST


def _scenario(name: str, body: str) -> str:
    used = [v for v in ("junk", "peer", "local_to", "rc") if f'"{v}' in body or f",{v}" in body]
    refs = f'  <Reference variables="{",".join(used)}"/>\n' if used else ""
    return (
        '<?xml version="1.0" encoding="ISO-8859-1" ?>\n'
        f'<scenario name="{name}">\n{body}'
        '  <timewait milliseconds="200"/>\n'
        f"{refs}</scenario>\n"
    )


def uas_xml(
    user: str,
    mode: Literal["answer", "busy", "reject", "ring"],
    ring: float = 0.0,
    steps: Sequence[Step] = (),
) -> str:
    """A phone that receives one call."""
    me = "[$local_to];tag=[pid]SIPpTag01[call_number]"
    dialog = _Dialog(me=me, user=user)
    xml = (
        '  <recv request="INVITE" crlf="true" timeout="60000">\n'
        "    <action>\n"
        '      <ereg regexp=".*" search_in="hdr" header="From:" assign_to="peer"/>\n'
        '      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>\n'
        '      <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:"'
        ' assign_to="junk,rc"/>\n'
        "    </action>\n"
        "  </recv>\n"
    )
    reply = [
        "[last_Via:]",
        "[last_From:]",
        f"To: {me}",
        "[last_Call-ID:]",
        "[last_CSeq:]",
        f"Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>",
    ]
    xml += _resp(_body(["SIP/2.0 100 Trying", *reply]))
    if mode == "busy":
        xml += _resp(_body(["SIP/2.0 486 Busy Here", *reply]))
        return _scenario("busy", xml + '  <recv request="ACK"/>\n')
    if mode == "reject":
        xml += _resp(_body(["SIP/2.0 603 Decline", *reply]))
        return _scenario("reject", xml + '  <recv request="ACK"/>\n')
    xml += _resp(_body(["SIP/2.0 180 Ringing", *reply]))
    if mode == "ring":
        xml += '  <recv request="CANCEL" timeout="120000"/>\n' + _OK_TO_REQUEST
        xml += "  <send><![CDATA[\n\nSIP/2.0 487 Request Terminated\n"
        xml += "[last_Via:]\n[last_From:]\n" + f"To: {me}\n"
        xml += "[last_Call-ID:]\nCSeq: [cseq] INVITE\nContent-Length: 0\n\n]]></send>\n"
        xml += '  <recv request="ACK"/>\n'
        return _scenario("ring", xml)
    xml += f'  <pause milliseconds="{int(ring * 1000)}"/>\n'
    xml += _resp(_body(["SIP/2.0 200 OK", *reply], _SDP.format(v=1, mode="sendrecv")))
    xml += '  <recv request="ACK" crlf="true"/>\n'
    xml += _after_answer(dialog, steps)
    return _scenario("answer", xml)


def uac_xml(
    user: str,
    number: str,
    *,
    auth: bool,
    answer: bool | None,
    cancel: float | None = None,
    steps: Sequence[Step] = (),
    headers: Sequence[str] = (),
) -> str:
    """A caller: ``answer`` True = expect 200; False = expect a failure; None with
    ``cancel`` = give up after ``cancel`` seconds of ringing."""
    me = f"<sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]SIPpTag09[call_number]"
    to = f"<sip:{number}@[remote_ip]:[remote_port]>"
    dialog = _Dialog(me=me, user=user)

    def invite(cseq: int, auth_line: bool) -> str:
        lines = [
            f"INVITE sip:{number}@[remote_ip]:[remote_port] SIP/2.0",
            "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
            f"From: {me}",
            f"To: {to}",
            "Call-ID: [call_id]",
            f"CSeq: {cseq} INVITE",
            f"Contact: <sip:{user}@[local_ip]:[local_port]>",
            "Max-Forwards: 70",
            *headers,
        ]
        if auth_line:
            lines.append("[authentication]")
        return _msg(_body(lines, _SDP.format(v=1, mode="sendrecv")))

    def ack(cseq: int, to_hdr: str = "[last_To:]") -> str:
        return _resp(
            _body(
                [
                    f"ACK sip:{number}@[remote_ip]:[remote_port] SIP/2.0",
                    "[last_Via:]",
                    f"From: {me}",
                    to_hdr,
                    "Call-ID: [call_id]",
                    f"CSeq: {cseq} ACK",
                    "Max-Forwards: 70",
                ]
            )
        )

    cseq = 1
    xml = invite(1, False)
    if auth:
        xml += '  <recv response="100" optional="true"/>\n'
        xml += '  <recv response="407" auth="true" optional="true" next="auth"/>\n'
        xml += '  <recv response="401" auth="true"/>\n'
        xml += '  <label id="auth"/>\n'
        xml += ack(1)
        cseq = 2
        xml += invite(2, True)
    xml += '  <recv response="100" optional="true"/>\n'
    xml += '  <recv response="180" optional="true"/>\n'
    xml += '  <recv response="183" optional="true"/>\n'
    if cancel is not None:
        xml += f'  <pause milliseconds="{int(cancel * 1000)}"/>\n'
        xml += _msg(
            _body(
                [
                    f"CANCEL sip:{number}@[remote_ip]:[remote_port] SIP/2.0",
                    "[last_Via:]",
                    f"From: {me}",
                    f"To: {to}",
                    "Call-ID: [call_id]",
                    f"CSeq: {cseq} CANCEL",
                    "Max-Forwards: 70",
                ]
            )
        )
        xml += '  <recv response="200"/>\n  <recv response="487"/>\n'
        return _scenario("cancel", xml + ack(cseq))
    if answer is False:
        for code in _FAILURES[:-1]:
            xml += f'  <recv response="{code}" optional="true" next="failed"/>\n'
        xml += f'  <recv response="{_FAILURES[-1]}"/>\n'
        xml += '  <label id="failed"/>\n'
        return _scenario("fail", xml + ack(cseq))
    xml += (
        '  <recv response="200" rrs="true" timeout="120000">\n'
        "    <action>\n"
        '      <ereg regexp=".*" search_in="hdr" header="To:" assign_to="peer"/>\n'
        '      <ereg regexp="&lt;(sip:[^&gt;]*)&gt;" search_in="hdr" header="Contact:"'
        ' assign_to="junk,rc"/>\n'
        "    </action>\n"
        "  </recv>\n"
    )
    dialog.cseq = cseq
    xml += dialog.ack()
    xml += _after_answer(dialog, steps)
    return _scenario("call", xml)


def register_xml(user: str, expires: int) -> str:
    lines = [
        "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]",
        f"From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]reg[call_number]",
        f"To: <sip:{user}@[remote_ip]:[remote_port]>",
        "Call-ID: [call_id]",
    ]
    tail = [
        f"Contact: <sip:{user}@[local_ip]:[local_port];transport=[transport]>",
        "Max-Forwards: 70",
        f"Expires: {expires}",
    ]
    xml = _msg(
        _body(["REGISTER sip:[remote_ip]:[remote_port] SIP/2.0", *lines, "CSeq: 1 REGISTER", *tail])
    )
    xml += '  <recv response="401" auth="true"/>\n'
    xml += _msg(
        _body(
            [
                "REGISTER sip:[remote_ip]:[remote_port] SIP/2.0",
                *lines,
                "CSeq: 2 REGISTER",
                "[authentication]",
                *tail,
            ]
        )
    )
    xml += '  <recv response="200"/>\n'
    return _scenario("register", xml).replace('  <timewait milliseconds="200"/>\n', "")


def _udp_bound(port: int) -> bool:
    """Whether some socket is bound to UDP ``port`` on 127.0.0.1 (Linux /proc)."""
    want = f"0100007F:{port:04X}"
    for table in ("/proc/net/udp",):
        with open(table) as fh:
            if any(line.split()[1] == want for line in fh.readlines()[1:]):
                return True
    return False


@dataclass(slots=True)
class Sipp:
    """One running sipp process."""

    name: str
    proc: asyncio.subprocess.Process
    log: Path
    port: int

    async def ready(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Until sipp's UDP port is bound (it listens before its first message)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while loop.time() < deadline:
            if self.proc.returncode is not None:
                raise SippError(f"{self.name}: exited {self.proc.returncode}\n{self.output()}")
            if _udp_bound(self.port):
                return
            await asyncio.sleep(0.02)
        raise SippError(f"{self.name}: not listening on {self.port} after {timeout} s")

    async def done(self, timeout: float = 90.0) -> None:  # noqa: ASYNC109
        """Until the scenario ended; ``SippError`` unless it completed."""
        try:
            async with asyncio.timeout(timeout):
                rc = await self.proc.wait()
        except TimeoutError:
            self.kill()
            raise SippError(
                f"{self.name}: still running after {timeout} s\n{self.output()}"
            ) from None
        if rc != 0:
            raise SippError(f"{self.name}: exit {rc}\n{self.output()}")

    def kill(self) -> None:
        if self.proc.returncode is None:
            self.proc.kill()

    def output(self) -> str:
        parts = []
        for path in sorted(self.log.parent.glob(f"{self.log.stem}*")):
            if path.suffix in (".out", ".log"):
                parts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-3000:]}")
        return "\n".join(parts)


@dataclass(slots=True)
class _Endpoint:
    ast: Asterisk
    workdir: Path
    user: str
    port: int = field(default_factory=lambda: free_port(socket.SOCK_DGRAM))

    @property
    def server_port(self) -> int:
        return self.ast.sip_port

    async def _run(
        self, name: str, xml: str, *, port: int | None = None, extra: Sequence[str] = ()
    ) -> Sipp:
        n = next(_counter)
        self.workdir.mkdir(parents=True, exist_ok=True)
        stem = f"{n:04d}-{self.user}-{name}"
        sf = self.workdir / f"{stem}.xml"
        sf.write_text(xml)
        out = self.workdir / f"{stem}.out"
        local = port if port is not None else self.port
        media = free_port(socket.SOCK_DGRAM)
        args = [
            f"127.0.0.1:{self.server_port}",
            "-sf", str(sf),
            "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", str(media),
            "-p", str(local),
            "-m", "1", "-nostdin", "-aa",
            "-timeout", "120", "-timeout_error",
            "-trace_err", "-error_file", str(self.workdir / f"{stem}.errors.log"),
            *extra,
        ]  # fmt: skip
        with out.open("wb") as fh:
            proc = await asyncio.create_subprocess_exec(
                "sipp", *args, stdout=fh, stderr=asyncio.subprocess.STDOUT, cwd=self.workdir
            )
        return Sipp(f"sipp {stem}", proc, out, local)


@dataclass(slots=True)
class Phone(_Endpoint):
    """A SIP phone ``user`` (1XX PJSIP, 2XX chan_sip) on its own UDP port."""

    @property
    def chan_sip(self) -> bool:
        return self.user.startswith("2")

    @property
    def server_port(self) -> int:
        return self.ast.chan_sip_port if self.chan_sip else self.ast.sip_port

    @property
    def password(self) -> str:
        return f"pass{self.user}"

    @property
    def device(self) -> str:
        return f"{'SIP' if self.chan_sip else 'PJSIP'}/{self.user}"

    def _auth(self) -> list[str]:
        return ["-au", self.user, "-ap", self.password]

    async def register(self, expires: int = 3600) -> None:
        """REGISTER from this phone's port (``expires=0`` unregisters)."""
        run = await self._run("register", register_xml(self.user, expires), extra=self._auth())
        await run.done(30)

    async def answer(self, ring: float = 1.0, then: Sequence[Step] = ()) -> Sipp:
        """Ring ``ring`` s, answer, then the steps (default: wait for the PBX's BYE)."""
        run = await self._run("answer", uas_xml(self.user, "answer", ring, then))
        await run.ready()
        return run

    async def busy(self) -> Sipp:
        run = await self._run("busy", uas_xml(self.user, "busy"))
        await run.ready()
        return run

    async def reject(self) -> Sipp:
        run = await self._run("reject", uas_xml(self.user, "reject"))
        await run.ready()
        return run

    async def ring(self) -> Sipp:
        """Ring until the PBX cancels (caller gave up, dial timeout, answered elsewhere)."""
        run = await self._run("ring", uas_xml(self.user, "ring"))
        await run.ready()
        return run

    async def call(
        self,
        number: str,
        *,
        answer: bool | None = True,
        cancel: float | None = None,
        then: Sequence[Step] = (),
    ) -> Sipp:
        """Dial ``number`` from a port of its own (the registered port stays the UAS's)."""
        xml = uac_xml(self.user, number, auth=True, answer=answer, cancel=cancel, steps=then)
        return await self._run("call", xml, port=free_port(socket.SOCK_DGRAM), extra=self._auth())


@dataclass(slots=True)
class Trunk(_Endpoint):
    """The provider: calls in with any caller number, and answers the PBX's outbound calls
    on ``ast.ports["TRUNK_PORT"]``."""

    user: str = "trunk"

    async def call(
        self,
        caller: str,
        did: str,
        *,
        answer: bool | None = True,
        cancel: float | None = None,
        then: Sequence[Step] = (),
    ) -> Sipp:
        xml = uac_xml(
            caller, did, auth=False, answer=answer, cancel=cancel, steps=then,
            headers=["X-Lab-Trunk: yes"],
        )  # fmt: skip
        return await self._run(f"in-{caller}", xml, port=free_port(socket.SOCK_DGRAM))

    def _out(self) -> int:
        return int(self.ast.ports["TRUNK_PORT"])

    async def answer(self, ring: float = 1.0, then: Sequence[Step] = ()) -> Sipp:
        """The called party of an outbound call answers after ``ring`` s."""
        run = await self._run("out-answer", uas_xml("pstn", "answer", ring, then), port=self._out())
        await run.ready()
        return run

    async def busy(self) -> Sipp:
        run = await self._run("out-busy", uas_xml("pstn", "busy"), port=self._out())
        await run.ready()
        return run

    async def ring(self) -> Sipp:
        run = await self._run("out-ring", uas_xml("pstn", "ring"), port=self._out())
        await run.ready()
        return run
