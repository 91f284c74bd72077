"""Test and bench support (never imported by the service): what a caller says and keys, as
the pcap files sipp plays (``play_pcap_audio``), and the sipp scenario of such a caller.

A :class:`Script` is a timeline: silence, speech (espeak-ng → sox → 8 kHz), noise, RFC 4733
DTMF events. It becomes G.711 µ-law RTP (payload type 0, 20 ms packets) with the DTMF as
telephone-event packets (payload type 101, three end packets per digit) in one pcap, and it
knows when each part starts and ends (offsets from the start of the call's audio).
"""

from __future__ import annotations

import random
import shutil
import struct
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Script", "caller_scenario", "speech_pcm", "ulaw"]

RATE = 8000
PT_PCMU, PT_DTMF = 0, 101
_FRAME = 160  # samples per 20 ms
_DTMF_CODES = {**{str(d): d for d in range(10)}, "*": 10, "#": 11}


def _ulaw_byte(sample: int) -> int:
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    sample = min(-sample if sign else sample, clip) + bias
    exponent = 7
    for exp in range(7, -1, -1):
        if sample & (0x4000 >> (7 - exp)):
            exponent = exp
            break
    mantissa = (sample >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


_ULAW = bytes(_ulaw_byte(s - 32768) for s in range(65536))


def ulaw(pcm: bytes) -> bytes:
    """16-bit signed LE PCM → G.711 µ-law."""
    samples = struct.unpack(f"<{len(pcm) // 2}h", pcm[: len(pcm) // 2 * 2])
    return bytes(_ULAW[s + 32768] for s in samples)


def speech_pcm(text: str, voice: str = "en-us", speed: int = 160) -> bytes:
    """What espeak-ng says, as 8 kHz 16-bit mono PCM."""
    espeak, sox = shutil.which("espeak-ng"), shutil.which("sox")
    if espeak is None or sox is None:
        raise RuntimeError("espeak-ng and sox are needed (scripts/setup installs them)")
    wav = subprocess.run(  # noqa: S603 - fixed tools, text on stdin
        [espeak, "-v", voice, "-s", str(speed), "--stdout", "--stdin"],
        input=text.encode(),
        capture_output=True,
        check=True,
    ).stdout
    return subprocess.run(  # noqa: S603
        [
            sox,
            "-t",
            "wav",
            "-",
            "-t",
            "raw",
            "-r",
            "8000",
            "-e",
            "signed",
            "-b",
            "16",
            "-c",
            "1",
            "-",
        ],
        input=wav,
        capture_output=True,
        check=True,
    ).stdout


@dataclass
class Script:
    """A caller's timeline; ``marks`` name moments (seconds from the start)."""

    pcm: bytearray = field(default_factory=bytearray)
    dtmf: list[tuple[float, str]] = field(default_factory=list)
    marks: dict[str, float] = field(default_factory=dict)

    @property
    def now_s(self) -> float:
        return len(self.pcm) / 2 / RATE

    def silence(self, seconds: float) -> Script:
        self.pcm += b"\0\0" * int(seconds * RATE)
        return self

    def say(self, text: str, name: str = "", voice: str = "en-us") -> Script:
        if name:
            self.marks[f"{name}_start"] = self.now_s
        self.pcm += speech_pcm(text, voice)
        if name:
            self.marks[f"{name}_end"] = self.now_s
        return self

    def noise(self, seconds: float, amplitude: int = 6000, name: str = "") -> Script:
        rng = random.Random(4733)  # noqa: S311 - test noise, reproducible
        if name:
            self.marks[f"{name}_start"] = self.now_s
        n = int(seconds * RATE)
        self.pcm += struct.pack(f"<{n}h", *(rng.randint(-amplitude, amplitude) for _ in range(n)))
        if name:
            self.marks[f"{name}_end"] = self.now_s
        return self

    def keys(self, digits: str, gap_s: float = 0.3, name: str = "") -> Script:
        """RFC 4733 digits (100 ms each, ``gap_s`` apart) over silence."""
        if name:
            self.marks[f"{name}_start"] = self.now_s
        for d in digits:
            self.dtmf.append((self.now_s, d))
            self.silence(0.1 + gap_s)
        if name:
            self.marks[f"{name}_end"] = self.now_s
        return self

    def pcap(self, path: Path) -> Path:
        """The RTP a phone would send, as a pcap sipp's ``play_pcap_audio`` replays."""
        packets: list[tuple[float, bytes]] = []
        ssrc, seq = 0x4733C0DE, 1
        audio = ulaw(bytes(self.pcm))
        events: dict[int, tuple[str, int, int]] = {}  # frame -> (digit, k-th, event ts)
        for at, digit in self.dtmf:
            first = int(at * RATE) // _FRAME
            for k in range(5):  # 100 ms
                events[first + k] = (digit, k, first * _FRAME)
        frames = (len(audio) + _FRAME - 1) // _FRAME
        for i in range(frames):
            t = i * _FRAME / RATE
            event = events.get(i)
            if event is None:
                payload = audio[i * _FRAME : (i + 1) * _FRAME].ljust(_FRAME, b"\xff")
                packets.append((t, _rtp(PT_PCMU, seq, i * _FRAME, ssrc, payload)))
                seq += 1
                continue
            digit, k, ev_ts = event
            end = k == 4
            for n in range(3 if end else 1):  # the end packet three times (RFC 4733 2.5.1.4)
                flags = (0x80 if end else 0) | 10
                body = struct.pack(">BBH", _DTMF_CODES[digit], flags, (k + 1) * _FRAME)
                packets.append((t, _rtp(PT_DTMF, seq, ev_ts, ssrc, body, k == 0 and n == 0)))
                seq += 1
        _write_pcap(path, packets)
        return path


def _rtp(pt: int, seq: int, ts: int, ssrc: int, payload: bytes, marker: bool = False) -> bytes:
    return struct.pack(">BBHII", 0x80, (0x80 if marker else 0) | pt, seq & 0xFFFF,
                       ts & 0xFFFFFFFF, ssrc) + payload  # fmt: skip


def _write_pcap(path: Path, packets: list[tuple[float, bytes]]) -> None:
    out = bytearray(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
    for t, rtp in packets:
        udp = struct.pack(">HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp  # fmt: skip
        eth = b"\0" * 12 + b"\x08\x00" + ip
        sec = int(t)
        out += struct.pack("<IIII", sec, int((t - sec) * 1e6), len(eth), len(eth)) + eth
    path.write_bytes(bytes(out))


def caller_scenario(pcap: Path, *, hold_s: float, caller: str = "caller") -> str:
    """A sipp UAC: INVITE (PCMU + telephone-event), play ``pcap`` after the answer, then wait
    for the PBX's BYE up to ``hold_s`` seconds (answering it), else send BYE itself."""
    ms = int(hold_s * 1000)
    sdp = (
        "v=0\no=caller 1 1 IN IP[local_ip_type] [local_ip]\ns=-\n"
        "c=IN IP[media_ip_type] [media_ip]\nt=0 0\n"
        "m=audio [media_port] RTP/AVP 0 101\na=rtpmap:0 PCMU/8000\n"
        "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-15\na=ptime:20\na=sendrecv\n"
    )
    return f"""<?xml version="1.0" encoding="ISO-8859-1" ?>
<scenario name="voice-bot caller">
  <send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:{caller}@[local_ip]:[local_port]>;tag=[pid]T[call_number]
To: <sip:[service]@[remote_ip]:[remote_port]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:caller@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{sdp}
]]></send>
  <recv response="100" optional="true"/>
  <recv response="180" optional="true"/>
  <recv response="183" optional="true"/>
  <recv response="200" rrs="true"/>
  <send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[last_Call-ID:]
[routes]
CSeq: 1 ACK
Max-Forwards: 70
Contact: <sip:caller@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <nop><action><exec play_pcap_audio="{pcap}"/></action></nop>
  <recv request="BYE" timeout="{ms}" ontimeout="bye"/>
  <send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:caller@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <nop next="done"/>
  <label id="bye"/>
  <send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[last_From:]
[last_To:]
[last_Call-ID:]
[routes]
CSeq: 2 BYE
Max-Forwards: 70
Contact: <sip:caller@[local_ip]:[local_port]>
Content-Length: 0

]]></send>
  <recv response="200" crlf="true"/>
  <label id="done"/>
</scenario>
"""
