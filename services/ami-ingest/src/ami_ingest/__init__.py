"""ami-ingest: every AMI frame of each PBX to ``cb:{pbx}:ami``, actions from
``cb:{pbx}:actions``; one active replica per PBX (lease)."""

from .exceptions import IngestError
from .main import IngestService
from .pbx import PbxIngest
from .settings import HttpSettings, IngestSettings, PbxSettings, ami_config, load

__all__ = [
    "HttpSettings",
    "IngestError",
    "IngestService",
    "IngestSettings",
    "PbxIngest",
    "PbxSettings",
    "ami_config",
    "load",
]
