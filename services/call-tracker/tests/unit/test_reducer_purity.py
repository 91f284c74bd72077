"""The reducer stays pure: nothing under ``call_tracker/reducer/`` may import I/O (Redis,
asyncio, sockets, HTTP clients, files, the clock). Its imports are checked against an
allowlist, so a new import has to be added here on purpose."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import call_tracker.reducer

REDUCER = Path(call_tracker.reducer.__file__).parent

#: Module -> the names that may be imported from it (None: the module itself, any name).
ALLOWED: dict[str, frozenset[str] | None] = {
    "__future__": None,
    "collections": None,
    "collections.abc": None,
    "dataclasses": None,
    "enum": None,
    "json": None,
    "sys": None,  # sys.intern
    "typing": None,
    "msgspec": None,
    "cbcontracts": None,
    # aioami's pure parts only (its package also holds the asyncio client)
    "aioami": frozenset({"Message", "event_name", "parse_frame", "parse_frames"}),
}
IO = ("redis", "asyncio", "socket", "httpx", "aiohttp", "requests", "ssl", "selectors",
      "subprocess", "os", "pathlib", "io", "time", "datetime", "random", "threading",
      "logging", "cbstreams", "cbruntime")  # fmt: skip


def _imports(path: Path) -> list[tuple[str, str | None]]:
    """(module, name) for every import in ``path``; relative imports are skipped."""
    found: list[tuple[str, str | None]] = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(alias.name, None) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
            found += [(node.module, alias.name) for alias in node.names]
    return found


def test_the_reducer_has_its_rules_in_modules_of_their_own() -> None:
    names = {p.stem for p in REDUCER.glob("*.py")}
    assert {"legs", "dialing", "transfers", "results", "sync", "pbxapps"} <= names


def test_nothing_under_reducer_imports_io() -> None:
    bad = []
    for path in sorted(REDUCER.rglob("*.py")):
        for module, name in _imports(path):
            allowed = ALLOWED.get(module, frozenset())
            ok = module in ALLOWED and (allowed is None or name in allowed)
            if not ok or module.split(".")[0] in IO:
                bad.append(f"{path.name}: {module}" + (f".{name}" if name else ""))
    assert not bad, f"the reducer must stay pure; imports not allowed: {bad}"


def test_the_libraries_the_reducer_uses_do_not_pull_in_io() -> None:
    code = (
        "import sys, json, msgspec, cbcontracts\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(subprocess.run(  # noqa: S603  (our own interpreter, a fixed snippet)
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout.split())  # fmt: skip
    assert not loaded & {"redis", "asyncio", "socket", "httpx", "ssl", "selectors"}
