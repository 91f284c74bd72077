"""A real Asterisk (22 or 20) for tests, run by ``../shared/asterisk/start-asterisk``.

``start_asterisk("22", workdir)`` picks free ports on 127.0.0.1, copies a config directory
(the lab's own by default, :data:`LAB_CONF`) with its ``@PLACEHOLDER@`` values filled in, and
returns when Asterisk is fully booted. ``stop()`` stops it. Everything binds to 127.0.0.1.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from aioami import AMIConfig

__all__ = [
    "AMI_SECRET",
    "AMI_USER",
    "LAB_CONF",
    "Asterisk",
    "AsteriskError",
    "free_port",
    "kit_dir",
    "start_asterisk",
]

LAB_CONF = Path(__file__).resolve().parent / "conf"
AMI_USER = "lab"
AMI_SECRET = "lab-secret"  # noqa: S105 - a test-only credential of the lab PBX on 127.0.0.1

_PORT_TAKEN = 3  # start-asterisk's exit status when a configured port was already in use


class AsteriskError(RuntimeError):
    """Asterisk could not be started (or the kit is missing)."""


def kit_dir() -> Path | None:
    """The shared Asterisk kit: ``$PBXLAB_KIT``, else ``../shared/asterisk`` beside the
    repository (as CI lays it out); None when absent."""
    env = os.environ.get("PBXLAB_KIT")
    if env:
        path = Path(env)
    else:
        repo = Path(__file__).resolve().parents[4]
        path = repo.parent / "shared" / "asterisk"
    return path if (path / "start-asterisk").is_file() else None


def free_port(kind: socket.SocketKind = socket.SOCK_STREAM) -> int:
    """A port on 127.0.0.1 free right now for ``kind`` (TCP by default)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _free_udp_block(size: int) -> int:
    """The first port of ``size`` consecutive UDP ports that bind right now."""
    for _ in range(50):
        base = random.randrange(20000, 60000 - size, 2)  # noqa: S311 - not security
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + size):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AsteriskError(f"no free block of {size} UDP ports")


@dataclass(slots=True)
class Asterisk:
    """A running Asterisk. ``ports``: every placeholder value it was started with
    (``AMI_PORT``, ``SIP_PORT``, ``CHAN_SIP_PORT``, ``RTP_START``, ``RTP_END`` and the
    caller's extras)."""

    version: str
    rundir: Path
    pid: int
    ports: dict[str, str]
    kit: Path
    _stopped: bool = field(default=False, repr=False)

    @property
    def ami_port(self) -> int:
        return int(self.ports["AMI_PORT"])

    @property
    def sip_port(self) -> int:
        """The PJSIP UDP port."""
        return int(self.ports["SIP_PORT"])

    @property
    def chan_sip_port(self) -> int:
        """The chan_sip UDP port (Asterisk 20; 22 has no chan_sip)."""
        return int(self.ports["CHAN_SIP_PORT"])

    @property
    def has_chan_sip(self) -> bool:
        return self.version.startswith("20")

    def ami_config(self, **overrides: object) -> AMIConfig:
        """An aioami config for the lab's AMI user (read/write all)."""
        values: dict[str, object] = {
            "host": "127.0.0.1",
            "port": self.ami_port,
            "username": AMI_USER,
            "secret": AMI_SECRET,
        }
        values.update(overrides)
        return AMIConfig(**values)  # type: ignore[arg-type]

    def cli(self, command: str, *, timeout: float = 20.0) -> str:
        """Output of one CLI command (``asterisk -rx``) over the control socket."""
        done = subprocess.run(  # noqa: S603 - our own launcher
            [str(self.kit / "start-asterisk"), "cli", str(self.rundir), command],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise AsteriskError(f"cli {command!r}: exit {done.returncode}: {done.stderr.strip()}")
        return done.stdout

    def log_tail(self, lines: int = 40) -> str:
        """The end of ``messages.log`` (for failure messages)."""
        log = self.rundir / "log" / "messages.log"
        if not log.exists():
            return ""
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self, *, timeout: float = 30.0) -> None:
        """Stop it (``core stop now``, then signals); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        subprocess.run(  # noqa: S603
            [str(self.kit / "start-asterisk"), "stop", str(self.rundir)],
            capture_output=True,
            timeout=timeout + 10,
            check=False,
        )

    def __enter__(self) -> Asterisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_asterisk(
    version: str,
    workdir: Path,
    confdir: Path = LAB_CONF,
    *,
    defines: Mapping[str, str | int] | None = None,
    cache_dir: Path | None = None,
    timeout: float = 90.0,
    attempts: int = 3,
) -> Asterisk:
    """Start Asterisk ``version`` (``"22"``, ``"20"``) in ``workdir`` (its RUNDIR) with
    ``confdir``. Free ports are chosen for AMI, PJSIP, chan_sip and a 200-port RTP range;
    ``defines`` adds or overrides placeholders. ``cache_dir`` (``ASTERISK_CACHE_DIR``) is
    where the tarball is unpacked once. Retries with other ports when one was taken."""
    kit = kit_dir()
    if kit is None:
        raise AsteriskError("no Asterisk kit: ../shared/asterisk is absent (or set PBXLAB_KIT)")
    env = dict(os.environ)
    if cache_dir is not None:
        env["ASTERISK_CACHE_DIR"] = str(cache_dir)
    last = ""
    for _ in range(attempts):
        rtp = _free_udp_block(200)
        ports: dict[str, str] = {
            "AMI_PORT": str(free_port()),
            "SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
            "CHAN_SIP_PORT": str(free_port(socket.SOCK_DGRAM)),
            "RTP_START": str(rtp),
            "RTP_END": str(rtp + 199),
            "AMI_USER": AMI_USER,
            "AMI_SECRET": AMI_SECRET,
        }
        ports.update({k: str(v) for k, v in (defines or {}).items()})
        workdir.mkdir(parents=True, exist_ok=True)
        cmd = [str(kit / "start-asterisk"), "start", "--timeout", str(int(timeout))]
        cmd += [version, str(workdir), str(confdir)]
        for name, value in ports.items():
            cmd += ["-D", f"{name}={value}"]
        done = subprocess.run(  # noqa: S603
            cmd, capture_output=True, text=True, env=env, timeout=timeout + 30, check=False
        )
        if done.returncode == 0:
            pid = int(done.stdout.strip().splitlines()[-1])
            return Asterisk(version, workdir, pid, ports, kit)
        last = f"exit {done.returncode}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
        if done.returncode != _PORT_TAKEN:
            break
    raise AsteriskError(f"Asterisk {version} did not start ({last})")
