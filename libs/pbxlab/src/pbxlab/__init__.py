"""pbxlab — a real Asterisk (22/20) for tests, with a production-like dialplan, sipp phones
and trunks. Test support only: never imported by a service's ``src``."""

from .asterisk import LAB_CONF, Asterisk, AsteriskError, free_port, kit_dir, start_asterisk
from .lab import DIDS, MOBILE, ROLES, Driver, Lab, extension, lab_defines, start_lab
from .sipp import AwaitBye, Dtmf, Hangup, Hold, Phone, Refer, Sipp, SippError, Step, Talk, Trunk

__all__ = [
    "DIDS",
    "LAB_CONF",
    "MOBILE",
    "ROLES",
    "Asterisk",
    "AsteriskError",
    "AwaitBye",
    "Driver",
    "Dtmf",
    "Hangup",
    "Hold",
    "Lab",
    "Phone",
    "Refer",
    "Sipp",
    "SippError",
    "Step",
    "Talk",
    "Trunk",
    "extension",
    "free_port",
    "kit_dir",
    "lab_defines",
    "start_asterisk",
    "start_lab",
]
