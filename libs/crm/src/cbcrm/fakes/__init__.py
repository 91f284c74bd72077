"""Contract-faithful fake CRMs (amoCRM v4, Bitrix24 REST, Megaplan v3) served over real HTTP
on 127.0.0.1, for tests and the demo. Each records every request with its arrival time and
takes injected faults (``fake.faults.fail(n, status)``, ``fake.stop()``/``start()``)."""

from .amocrm import FakeAmoCrm
from .amocrm_state import AmoState
from .faults import Faults, max_in_window, max_leaky_level
from .server import FakeServer, Recorded, Reply, Request

__all__ = [
    "AmoState",
    "FakeAmoCrm",
    "FakeServer",
    "Faults",
    "Recorded",
    "Reply",
    "Request",
    "max_in_window",
    "max_leaky_level",
]
