"""``python -m ami_ingest [--config FILE]``: run ami-ingest until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import sys

from cbruntime import RuntimeSetupError, run_until_signal, setup_logging

from .exceptions import IngestError
from .main import IngestService
from .settings import load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ami-ingest")
    parser.add_argument("--config", help="TOML settings file (else CB_CONFIG, then env only)")
    args = parser.parse_args(argv)
    try:
        settings = load(args.config)
    except (RuntimeSetupError, IngestError) as exc:
        sys.stderr.write(f"ami-ingest: {exc}\n")
        return 2
    setup_logging(settings.log_level, json=settings.log_json)
    run_until_signal(IngestService(settings).run)
    return 0


if __name__ == "__main__":
    sys.exit(main())
