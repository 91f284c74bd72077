"""pytest fixtures for a real Asterisk: ``-p pbxlab.pytest_plugin``.

``asterisk22`` / ``asterisk20``: a session-wide lab PBX (:class:`pbxlab.Lab`, Asterisk 22 with
PJSIP phones / Asterisk 20 with chan_sip phones), started on first use and stopped at the
end of the session. They skip, saying why, only when the kit (``../shared/asterisk``) is
absent; any other failure to start is an error. The tarballs are unpacked once per session
(``ASTERISK_CACHE_DIR`` = ``pbxlab_cache``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from .asterisk import kit_dir
from .lab import Lab, start_lab


@pytest.fixture(scope="session")
def pbxlab_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where this session unpacks the Asterisk tarballs (once)."""
    return tmp_path_factory.mktemp("asterisk-cache")


def _lab(version: str, tmp_path_factory: pytest.TempPathFactory, cache: Path) -> Iterator[Lab]:
    if kit_dir() is None:
        pytest.skip("no real Asterisk: ../shared/asterisk is absent (or set PBXLAB_KIT)")
    lab = start_lab(version, tmp_path_factory.mktemp(f"ast{version}"), cache_dir=cache)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture(scope="session")
def asterisk22(tmp_path_factory: pytest.TempPathFactory, pbxlab_cache: Path) -> Iterator[Lab]:
    """Asterisk 22 with the lab config; phones of roles A-F are PJSIP 100-105."""
    yield from _lab("22", tmp_path_factory, pbxlab_cache)


@pytest.fixture(scope="session")
def asterisk20(tmp_path_factory: pytest.TempPathFactory, pbxlab_cache: Path) -> Iterator[Lab]:
    """Asterisk 20 with the lab config; phones of roles A-F are chan_sip 200-205 (PJSIP
    100-105 are configured too: ``lab.phone("100")``)."""
    yield from _lab("20", tmp_path_factory, pbxlab_cache)
