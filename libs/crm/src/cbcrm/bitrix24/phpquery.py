"""PHP-style nested query strings (``FILTER[UF_PHONE_INNER]=101&select[]=ID``), as Bitrix24
expects inside ``batch`` commands, and their decoding (for the fake portal)."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

__all__ = ["decode", "encode"]

_KEY = re.compile(r"^([^\[]+)((?:\[[^\]]*\])*)$")
_PART = re.compile(r"\[([^\]]*)\]")


def _pairs(prefix: str, value: Any) -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _pairs(f"{prefix}[{k}]", v)]
    if isinstance(value, list | tuple):
        return [p for i, v in enumerate(value) for p in _pairs(f"{prefix}[{i}]", v)]
    if isinstance(value, bool):
        return [(prefix, "Y" if value else "N")]
    return [(prefix, "" if value is None else str(value))]


def encode(params: dict[str, Any]) -> str:
    """``{"FILTER": {"ACTIVE": True}, "ID": [1, 2]}`` → ``FILTER%5BACTIVE%5D=Y&ID%5B0%5D=1&…``."""
    pairs = [p for k, v in params.items() for p in _pairs(str(k), v)]
    return urllib.parse.urlencode(pairs)


def decode(query: str) -> dict[str, Any]:
    """The inverse of :func:`encode`; ``[]`` appends; all leaves are strings (as in PHP)."""
    out: dict[str, Any] = {}
    for key, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
        match = _KEY.match(key)
        if match is None:
            continue
        path = [match.group(1), *_PART.findall(match.group(2))]
        _put(out, path, value)
    return {k: _listify(v) for k, v in out.items()}


def _put(node: dict[str, Any], path: list[str], value: str) -> None:
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if part == "":
            part = str(len(node))
        if last:
            node[part] = value
        else:
            node = node.setdefault(part, {})


def _listify(value: Any) -> Any:
    """Dicts keyed 0..n-1 become lists (PHP arrays do not tell the two apart)."""
    if not isinstance(value, dict):
        return value
    value = {k: _listify(v) for k, v in value.items()}
    if (
        value
        and all(k.isdigit() for k in value)
        and sorted(map(int, value)) == list(range(len(value)))
    ):
        return [value[str(i)] for i in range(len(value))]
    return value
