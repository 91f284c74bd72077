"""The built-in CRM on SQLite: the embedded default, seeded with demo data."""

from .adapter import BuiltinCrm
from .schema import seed_demo

__all__ = ["BuiltinCrm", "seed_demo"]
