"""``python -m presence [CONFIG]``."""

from __future__ import annotations

import contextlib
import sys

from cbruntime import run_until_signal, setup_logging

from .main import PresenceService
from .settings import load


def main() -> None:
    settings = load(sys.argv[1] if len(sys.argv) > 1 else None)
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(PresenceService(settings).run)


if __name__ == "__main__":
    main()
