"""Validated settings: frozen dataclasses whose fields carry their allowed values.

The one mechanism behind every setting of the platform - a scenario (:mod:`slicesim.config`) and
an agent's hyperparameters (``agents``) alike:

* :func:`num` declares a numeric field and its range, :func:`choice` a string field and its
  allowed values; :class:`Validated` checks them when an instance is made and calls ``_check``
  for cross-field rules. A value of ``None`` (an optional field) is not range-checked.
* :func:`build` makes a dataclass from plain data (YAML, JSON, ``--set``), checking types and
  naming unknown keys; :func:`replaced` applies dotted overrides (``"online.trust": 0.1``) to
  an instance; :func:`load_yaml` reads a file of some fields.

Every error is a :class:`ConfigError` whose message names the dotted field, the value and what
is allowed. This module imports nothing else of slicesim: every layer may use it.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import field
from pathlib import Path
from typing import Any, TypeVar

import yaml

__all__ = [
    "ConfigError",
    "Validated",
    "build",
    "choice",
    "load_yaml",
    "num",
    "parse_sets",
    "replaced",
    "single_values",
    "to_dict",
]

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is malformed: the message names the field, value and allowed range."""


def num(lo: float, hi: float, default: Any, unit: str = "", lo_open: bool = False) -> Any:
    """A numeric dataclass field with an allowed range [lo, hi] (or (lo, hi] if lo_open)."""
    return field(default=default, metadata={"range": (lo, hi, lo_open), "unit": unit})


def choice(default: str, *allowed: str) -> Any:
    """A string dataclass field with its allowed values."""
    return field(default=default, metadata={"choices": allowed})


def _range_text(lo: float, hi: float, lo_open: bool, unit: str) -> str:
    left = "(" if lo_open else "["
    return f"{left}{lo:g}, {hi:g}]" + (f" {unit}" if unit else "")


class Validated:
    """Mixin: check every field that declares ``metadata["range"]`` or ``["choices"]``."""

    def __post_init__(self) -> None:
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            allowed_values = f.metadata.get("choices")
            if allowed_values is not None and value not in allowed_values:
                raise ConfigError(
                    f"{f.name} = {value!r} is unknown: allowed {sorted(allowed_values)}"
                )
            spec = f.metadata.get("range")
            if spec is None or value is None:
                continue
            lo, hi, lo_open = spec
            values = value if isinstance(value, tuple) else (value,)
            for v in values:
                bad_lo = v <= lo if lo_open else v < lo
                if not math.isfinite(v) or bad_lo or v > hi:
                    allowed = _range_text(lo, hi, lo_open, f.metadata.get("unit", ""))
                    raise ConfigError(f"{f.name} = {value!r} is out of range: allowed {allowed}")
        self._check()

    def _check(self) -> None:
        """Cross-field checks of a subclass (raise ConfigError)."""


def to_dict(obj: Any) -> Any:
    """Plain (YAML-able) data of a config dataclass."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, tuple):
        return [to_dict(v) for v in obj]
    return obj


def undot(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Dotted keys (``"sim.window_s"``) as nested dicts."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        parts = str(key).split(".")
        node = out
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = undot(value) if isinstance(value, Mapping) else value
    return out


def merge(base: Any, over: Any, where: str = "") -> Any:
    """``over`` merged into ``base``; a mapping merged into a list indexes it by position."""
    prefix = f"{where}." if where else ""
    if isinstance(base, dict) and isinstance(over, dict):
        merged = dict(base)
        for key, value in over.items():
            merged[key] = merge(base[key], value, prefix + key) if key in base else value
        return merged
    if isinstance(base, list) and isinstance(over, dict):
        merged_list = list(base)
        for key, value in over.items():
            index = int(key) if str(key).isdigit() else None
            if index is None or index >= len(base):
                raise ConfigError(
                    f"{prefix}{key}: {where} is a list of {len(base)}; "
                    f"allowed indices 0..{len(base) - 1}"
                )
            merged_list[index] = merge(base[index], value, prefix + str(key))
        return merged_list
    return over


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _coerce(tp: Any, value: Any, where: str, moved: Mapping[str, str]) -> Any:
    """Check ``value`` against annotation ``tp`` (after postponed evaluation) and convert it."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, where, moved)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{where} = {value!r} must be a list")
        (item_tp, _) = typing.get_args(tp)
        return tuple(_coerce(item_tp, v, f"{where}[{i}]", moved) for i, v in enumerate(value))
    if isinstance(tp, type) and dataclasses.is_dataclass(tp):
        return build(tp, value, where, moved)
    if tp is bool and isinstance(value, bool):
        return value
    if tp is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if tp is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if tp is str and isinstance(value, str):
        return value
    raise ConfigError(f"{where} = {value!r} must be of type {_type_name(tp)}")


def build(cls: type[T], data: Any, where: str = "", moved: Mapping[str, str] | None = None) -> T:
    """Build dataclass ``cls`` from a mapping, naming the dotted field path in every error.

    Args:
        cls: the (validated) dataclass.
        data: plain data of some or all of its fields (the rest keep their defaults).
        where: the dotted path of ``cls`` in the whole (for messages), e.g. ``"radio"``.
        moved: keys that moved elsewhere, ``{"radio.pathloss": "radio.legacy.pathloss"}``: a
            helpful message instead of "unknown key".
    """
    moved = moved or {}
    label = where or "scenario"
    if not isinstance(data, Mapping):
        raise ConfigError(f"{label} must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - names)
    shifted = [
        f"{label}.{k} is now {moved[f'{label}.{k}']}" for k in unknown if f"{label}.{k}" in moved
    ]
    if shifted:
        raise ConfigError(f"{'; '.join(shifted)} (moved in slicesim 0.2)")
    if unknown:
        raise ConfigError(f"{label}: unknown key(s) {unknown}; allowed: {sorted(names)}")
    prefix = f"{where}." if where else ""
    kwargs = {k: _coerce(hints[k], v, prefix + k, moved) for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise ConfigError(f"{prefix}{err}") from None


def replaced(
    obj: T, overrides: Mapping[str, Any], where: str = "", moved: Mapping[str, str] | None = None
) -> T:
    """A copy of dataclass ``obj`` with ``overrides`` applied: nested dicts or dotted keys.

    A number in a dotted key indexes a list by position: ``"slices.1.thr_mbps"``. A nested
    optional record that is ``None`` is built from its defaults before its fields apply.

    Raises:
        ConfigError: an unknown key, a list index out of range, or a bad value (named).
    """
    data = merge(to_dict(obj), _fill_optional(type(obj), to_dict(obj), undot(overrides)), where)
    return build(type(obj), data, where, moved)


def _fill_optional(cls: Any, data: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Overrides of fields inside an optional record that is ``None``: start from its defaults."""
    hints = typing.get_type_hints(cls, vars(sys.modules[cls.__module__]))
    out = dict(over)
    for key, value in over.items():
        if not isinstance(value, dict) or key not in hints or data.get(key) is not None:
            continue
        inner = [
            a
            for a in typing.get_args(hints[key])
            if isinstance(a, type) and dataclasses.is_dataclass(a)
        ]
        if inner:
            out[key] = merge(to_dict(inner[0]()), value, key)
    return out


def load_yaml(cls: type[T], path: str | Path, what: str = "config") -> T:
    """The defaults of ``cls`` overridden by the fields of a YAML file.

    Raises:
        FileNotFoundError: no file at ``path``.
        ConfigError: not a mapping, an unknown key or a bad value (named).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} file {str(path)!r} does not exist")
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{what} file {str(path)!r} is not valid YAML: {err}") from None
    try:
        return build(cls, data, what)
    except ConfigError as err:
        raise ConfigError(f"{what} file {str(path)!r}: {err}") from None


def _split_values(text: str) -> list[str]:
    """``V1,V2,...`` split at the commas outside brackets (a YAML list ``[1, 2]`` is one value)."""
    parts, depth, start = [], 0, 0
    for i, char in enumerate(text):
        depth += char in "[{"
        depth -= char in "]}"
        if char == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return parts


def _number_or(value: Any) -> Any:
    """A float written as YAML 1.1 reads as text (``3e-4``): read it as the number it is."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def parse_sets(items: Sequence[str]) -> dict[str, list[Any]]:
    """``--set KEY=V1,V2,...`` items (values read as YAML) as {key: values}, in order.

    The one ``--set`` syntax of the command line: ``slicesim sweep`` runs every value,
    ``bench``, ``train`` and ``calibrate`` take one (:func:`single_values`). Keys are dotted
    scenario fields (``traffic.load_scale``) or agent settings (``agent.idla.online.trust``).

    Raises:
        ConfigError: an item without ``=``, an empty key or value, a key given twice.
    """
    out: dict[str, list[Any]] = {}
    for item in items:
        key, sep, values = item.partition("=")
        key = key.strip()
        if not sep or not key or not values.strip():
            raise ConfigError(
                f"--set {item!r}: expected KEY=V1,V2,..., e.g. traffic.load_scale=0.5,1"
            )
        if key in out:
            raise ConfigError(f"--set {key}: given twice")
        parsed = []
        for value in _split_values(values):
            try:
                parsed.append(_number_or(yaml.safe_load(value)))
            except yaml.YAMLError as err:
                raise ConfigError(f"--set {key}: {value!r} is not a value: {err}") from None
        out[key] = parsed
    return out


def single_values(sets: Mapping[str, list[Any]], command: str) -> dict[str, Any]:
    """``--set`` items of a command that runs one configuration: one value per key.

    Raises:
        ConfigError: a key with several values (only ``slicesim sweep`` runs several).
    """
    for key, values in sets.items():
        if len(values) != 1:
            raise ConfigError(
                f"--set {key}: {command} takes one value per key (got {len(values)}); "
                "slicesim sweep runs several"
            )
    return {key: values[0] for key, values in sets.items()}
