"""The lab PBX: an Asterisk with the lab's configs, its trunk and phones.

``Lab`` wraps a started :class:`~pbxlab.asterisk.Asterisk`: ``lab.phone("A")`` is the phone of
role A (``100`` on PJSIP, ``200`` on chan_sip), ``lab.trunk`` the provider, ``lab.ami()`` an
AMI client. The dialplan's DIDs, ring groups and queues use the roles A-D, so the same call
runs over PJSIP or chan_sip phones (``driver``).
"""

from __future__ import annotations

import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from aioami import AMIClient

from .asterisk import LAB_CONF, Asterisk, free_port, start_asterisk
from .sipp import Phone, Trunk

__all__ = ["DIDS", "ROLES", "Driver", "Lab", "lab_defines", "start_lab"]

Driver = Literal["pjsip", "sip"]
ROLES = ("A", "B", "C", "D", "E", "F")

#: The lab dialplan's DIDs (context from-trunk), see conf/extensions.conf.
DIDS: Mapping[str, str] = {
    "direct": "4951000001",
    "group": "4951000002",
    "group_mobile": "4951000003",
    "queue": "4951000004",
    "queue_rr": "4951000005",
    "ivr": "4951000006",
    "agi": "4951000007",
    "direct_vm": "4951000008",
    "conference": "4951000009",
    "direct_b": "4951000010",
}
MOBILE = "79990000001"  # ring group 601's external member (globals MOBILE)


def extension(role: str, driver: Driver) -> str:
    """The extension of ``role`` (A-F) for ``driver``: 100-105 PJSIP, 200-205 chan_sip."""
    return str((200 if driver == "sip" else 100) + ROLES.index(role))


def lab_defines(driver: Driver) -> dict[str, str]:
    """The placeholders of the lab config for ``driver``: roles and their devices."""
    out: dict[str, str] = {}
    for role in ROLES:
        ext = extension(role, driver)
        out[role] = ext
        out[f"DEV_{role}"] = f"{'SIP' if driver == 'sip' else 'PJSIP'}/{ext}"
    return out


@dataclass(slots=True)
class Lab:
    """A running lab PBX for one channel driver of its phones."""

    ast: Asterisk
    driver: Driver
    workdir: Path
    trunk: Trunk = field(init=False)
    _phones: dict[str, Phone] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.trunk = Trunk(self.ast, self.workdir / "sipp")

    def ext(self, role: str) -> str:
        """The extension of a role (``"A"``) or the extension itself (``"101"``)."""
        return extension(role, self.driver) if role in ROLES else role

    def phone(self, role: str) -> Phone:
        """The phone of a role or extension (one per extension, its port kept)."""
        ext = self.ext(role)
        if ext not in self._phones:
            self._phones[ext] = Phone(self.ast, self.workdir / "sipp", ext)
        return self._phones[ext]

    def ami(self, **overrides: object) -> AMIClient:
        """A new (not yet started) AMI client: ``async with lab.ami() as ami:``."""
        return AMIClient(self.ast.ami_config(**overrides))

    def stop(self) -> None:
        self.ast.stop()


def start_lab(
    version: str,
    workdir: Path,
    *,
    driver: Driver | None = None,
    confdir: Path = LAB_CONF,
    defines: Mapping[str, str | int] | None = None,
    cache_dir: Path | None = None,
) -> Lab:
    """Start the lab PBX: Asterisk ``version`` with the lab config in ``workdir``. ``driver``
    defaults to chan_sip on Asterisk 20 and PJSIP on 22."""
    chosen: Driver = driver or ("sip" if version.startswith("20") else "pjsip")
    values: dict[str, str | int] = {
        **lab_defines(chosen),
        "TRUNK_PORT": free_port(socket.SOCK_DGRAM),
    }
    values.update(defines or {})
    ast = start_asterisk(version, workdir, confdir, defines=values, cache_dir=cache_dir)
    return Lab(ast, chosen, workdir)
