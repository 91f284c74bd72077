"""``python -m api_gateway [--config FILE]``: serve the gateway until SIGTERM."""

from __future__ import annotations

import argparse
import contextlib

from cbruntime import run_until_signal, setup_logging

from .main import serve
from .settings import load


def main() -> None:
    parser = argparse.ArgumentParser(prog="api_gateway")
    parser.add_argument("--config", help="TOML settings file (CB_* variables override it)")
    args = parser.parse_args()
    settings = load(args.config)
    setup_logging(settings.log_level, json=settings.log_json)
    with contextlib.suppress(KeyboardInterrupt):
        run_until_signal(lambda stop: serve(settings, stop))


if __name__ == "__main__":
    main()
