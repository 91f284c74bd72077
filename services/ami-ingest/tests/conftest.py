"""Fixtures of the ami-ingest tests: recorded captures."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from amisim import Capture

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def load() -> Callable[[str], Capture]:
    """Loads a capture from tests/fixtures (copied from the shared real-Asterisk captures)."""
    return lambda name: Capture.load(FIXTURES / f"{name}.ami")
