"""Contract-faithful fake CRMs (amoCRM v4, Bitrix24 REST, Megaplan v3) served over real HTTP
on 127.0.0.1, for tests and the demo. Each records every request with its arrival time and
takes injected faults (``fake.faults.fail(n, status)``, ``fake.stop()``/``start()``)."""

from .amocrm import FakeAmoCrm
from .amocrm_state import AmoState
from .bitrix24 import FakeBitrix24
from .bitrix24_state import B24State
from .faults import Faults, max_in_window, max_leaky_level
from .megaplan import FakeMegaplan
from .server import FakeServer, Recorded, Reply, Request

__all__ = [
    "AmoState",
    "B24State",
    "FakeAmoCrm",
    "FakeBitrix24",
    "FakeMegaplan",
    "FakeServer",
    "Faults",
    "Recorded",
    "Reply",
    "Request",
    "max_in_window",
    "max_leaky_level",
]
