"""``python -m voice_bot``: serve FastAGI with the settings from CB_CONFIG / CB_* env."""

from __future__ import annotations

import contextlib

from cbruntime import run_until_signal, setup_logging

from .main import serve
from .settings import load


def main() -> None:
    settings = load()
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
