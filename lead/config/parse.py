"""The params checker: a mapping is read into a dataclass, and a wrong key fails with its dotted name.

``parse(cls, mapping, key)`` checks each value against the field's type hint (int, float, str, bool, Literal,
Optional, list, dict and nested dataclasses) and rejects unknown keys with a "did you mean" hint, so
``dvc exp run -S distill.layres=2`` cannot silently do nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from typing import Any, Literal

from lead.errors import ConfigError

T = typing.TypeVar("T")


def parse(cls: type[T], data: Any, key: str = "", source: str = "params.yaml") -> T:
    """Build dataclass ``cls`` from ``data``; ``key`` is the dotted path used in error messages."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(key or "<root>", f"expected a mapping, got {type(data).__name__} {data!r}", source)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for name in data:
        if name not in fields:
            close = difflib.get_close_matches(str(name), fields, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known keys: {', '.join(fields)})"
            raise ConfigError(_join(key, name), "unknown key" + hint, source)
    missing = [name for name, f in fields.items() if name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(_join(key, missing[0]), "missing: this key has no default", source)
    values = {name: _convert(hints[name], data[name], _join(key, name), source) for name in fields if name in data}
    try:
        return cls(**values)
    except ConfigError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(key or "<root>", str(exc), source) from exc


def _join(key: str, name: Any) -> str:
    return f"{key}.{name}" if key else str(name)


def _convert(hint: Any, value: Any, key: str, source: str) -> Any:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return parse(hint, value, key, source)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for option in (a for a in args if a is not type(None)):
            try:
                return _convert(option, value, key, source)
            except ConfigError as exc:
                errors.append(str(exc).split(": ", 2)[-1])
        raise ConfigError(key, " or ".join(errors), source)
    if origin is Literal:
        if value not in args:
            raise ConfigError(key, f"{value!r} is not one of {', '.join(map(repr, args))}", source)
        return value
    if origin is list:
        if not isinstance(value, list):
            raise ConfigError(key, f"expected a list, got {value!r}", source)
        return [_convert(args[0], v, f"{key}[{i}]", source) for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(key, f"expected a mapping, got {value!r}", source)
        return {k: _convert(args[1], v, _join(key, k), source) for k, v in value.items()}
    if hint is Any:
        return value
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if hint in (int, float, str, bool):
        if type(value) is not hint:
            raise ConfigError(key, f"expected {hint.__name__}, got {value!r}", source)
        return value
    raise ConfigError(key, f"unsupported type {hint}", source)  # a programming error in a config class
