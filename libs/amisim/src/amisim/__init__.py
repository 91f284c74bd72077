"""amisim — a fake Asterisk 22 speaking AMI, with call scenarios derived from real captures."""

from ._template import Template, load_template, template_names
from .calls import Call
from .capture import CaptureResult, capture
from .channels import LiveChannel
from .pbx import PbxError
from .replay import Capture
from .server import Simulator
from .traffic import (
    SCENARIOS,
    TrafficConfig,
    TrafficGenerator,
    blast,
    blast_chunks,
    render_call,
    render_events,
)
from .truth import OUTCOMES, Outcome, PlayedCall

__all__ = [
    "OUTCOMES",
    "SCENARIOS",
    "Call",
    "Capture",
    "CaptureResult",
    "LiveChannel",
    "Outcome",
    "PbxError",
    "PlayedCall",
    "Simulator",
    "Template",
    "TrafficConfig",
    "TrafficGenerator",
    "blast",
    "blast_chunks",
    "capture",
    "load_template",
    "render_call",
    "render_events",
    "template_names",
]
