"""Typed settings: a TOML file and ``CB_*`` environment variables, loaded once, passed down.

Environment variables override the file. ``CB_REDIS_URL`` sets ``redis_url``; a double
underscore walks into tables: ``CB_PBX__MAIN__SECRET`` sets ``pbx.main.secret``. Values from
the environment are strings and are converted to the declared types (``"5038"`` -> ``5038``).
Wrap passwords and tokens in :class:`Secret`: their repr and str are masked.

A key in the file that the settings do not have (a typo: ``client_idd``) is an error naming
the key and the file, for every service (:func:`unknown_keys`).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

import msgspec
import msgspec.inspect as mi

from .exceptions import SettingsError

__all__ = ["ENV_PREFIX", "Secret", "env_tree", "load_settings", "merge", "unknown_keys"]

ENV_PREFIX = "CB_"
T = TypeVar("T")


class Secret:
    """A secret string. ``repr()``/``str()`` never show it; ``reveal()`` does."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def env_tree(environ: Mapping[str, str], prefix: str = ENV_PREFIX) -> dict[str, Any]:
    """``CB_A__B=v`` -> ``{"a": {"b": "v"}}`` (keys lower-cased)."""
    tree: dict[str, Any] = {}
    for name, value in environ.items():
        if not name.startswith(prefix) or len(name) == len(prefix):
            continue
        path = name[len(prefix) :].lower().split("__")
        node = tree
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SettingsError(f"environment variable {name} conflicts with {prefix}{part}")
            node = child
        node[path[-1]] = value
    return tree


def merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """Deep merge of two tables; ``over`` wins."""
    out = dict(base)
    for key, value in over.items():
        old = out.get(key)
        if isinstance(old, Mapping) and isinstance(value, Mapping):
            out[key] = merge(old, value)
        else:
            out[key] = value
    return out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except OSError as exc:
        raise SettingsError(f"cannot read settings file {path}: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"bad TOML in {path}: {exc}") from None


def unknown_keys(cls: Any, data: Mapping[str, Any]) -> list[str]:
    """Dotted paths of the keys in ``data`` that ``cls`` (dataclass / msgspec Struct, nested
    through tables, dicts, lists and optionals) has no field for."""
    return _unknown(mi.type_info(cls), data, "")


def _unknown(info: mi.Type, value: Any, path: str) -> list[str]:
    if isinstance(info, mi.UnionType):
        return min(
            (_unknown(t, value, path) for t in info.types if not isinstance(t, mi.NoneType)),
            key=len,
            default=[],
        )
    if isinstance(info, mi.DataclassType | mi.StructType) and isinstance(value, Mapping):
        fields = {f.encode_name: f.type for f in info.fields}
        out: list[str] = []
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if key not in fields:
                out.append(where)
            else:
                out += _unknown(fields[key], item, where)
        return out
    if isinstance(info, mi.DictType) and isinstance(value, Mapping):
        return [
            k for key, v in value.items() for k in _unknown(info.value_type, v, f"{path}.{key}")
        ]
    if isinstance(info, mi.ListType | mi.TupleType | mi.VarTupleType) and isinstance(value, list):
        item_type = getattr(info, "item_type", None)
        if item_type is None:
            return []
        return [k for i, v in enumerate(value) for k in _unknown(item_type, v, f"{path}[{i}]")]
    return []


def _refuse_unknown(cls: Any, data: Mapping[str, Any], file: Any, *, prefix: str = "") -> None:
    table = data[prefix] if prefix else data
    unknown = [f"{prefix}.{k}" if prefix else k for k in unknown_keys(cls, table)]
    if unknown:
        keys = ", ".join(unknown)
        raise SettingsError(
            f"settings file {file}: unknown key{'s' if len(unknown) > 1 else ''} {keys}"
        )


def _dec_hook(typ: type, obj: object) -> object:
    if typ is Secret and isinstance(obj, str):
        return Secret(obj)
    if typ is Path and isinstance(obj, str):
        return Path(obj)
    raise NotImplementedError(f"{typ}")


def load_settings(
    cls: type[T],
    path: str | Path | None = None,
    environ: Mapping[str, str] | None = None,
    *,
    prefix: str = ENV_PREFIX,
    section: str | None = None,
) -> T:
    """Build ``cls`` (a dataclass or msgspec Struct) from ``path`` (if given) and the env.

    ``environ`` defaults to ``os.environ``; ``{prefix}CONFIG`` names the file when ``path``
    is None. With ``section`` the file holds several services' settings: ``cls`` is built
    from its ``[section]`` table, which inherits the file's top-level keys that are not tables
    (``redis_url``, ``key_prefix``…). Raises :class:`SettingsError`.
    """
    env = os.environ if environ is None else environ
    file = path if path is not None else env.get(f"{prefix}CONFIG")
    data = _read_toml(Path(file)) if file else {}
    if section is not None:
        table = data.get(section)
        if not isinstance(table, dict):
            raise SettingsError(f"settings file {file}: no [{section}] table")
        # top-level scalars are shared by the file's services: only the table is this one's
        _refuse_unknown(cls, {section: table}, file, prefix=section)
        data = merge({k: v for k, v in data.items() if not isinstance(v, dict)}, table)
    elif data:
        _refuse_unknown(cls, data, file)
    tree = env_tree(env, prefix)
    tree.pop("config", None)
    try:
        return msgspec.convert(merge(data, tree), cls, strict=False, dec_hook=_dec_hook)
    except msgspec.ValidationError as exc:
        raise SettingsError(f"invalid settings: {exc}") from None
