"""The one exception tree of ami-ingest."""

from __future__ import annotations

__all__ = ["IngestError"]


class IngestError(Exception):
    """Root of every ami-ingest error (bad configuration, unusable PBX settings)."""
