"""Build (nested) dataclasses from plain dicts with type checking and key suggestions.

`from_dict(cls, data, prefix)` checks every key and value against the dataclass fields. An
unknown key raises a WaveflowError that suggests the closest valid key, e.g.
"unknown key 'train.lerning_rate' (did you mean 'train.lr'?)"; a value of the wrong type raises
"train.lr: expected float, got 'fast' (str)". `to_dict(obj)` is the inverse (tuples become lists
so the result is YAML- and `torch.load(weights_only=True)`-safe).

Supported field types: bool, int, float (ints and numeric strings such as "1e-4" are accepted),
str, Literal[...], X | None and other unions, list[T], tuple[T, ...], tuple[A, B], dict[str, T],
nested dataclasses and Any. A dataclass with a classmethod `expand_mapping(data, prefix)` gets
its mapping rewritten by it first (e.g. `MelConfig` expands a `preset` key).
"""

from __future__ import annotations

import dataclasses
import difflib
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal, TypeVar, Union

from waveflow.errors import WaveflowError

T = TypeVar("T")


def from_dict(cls: type[T], data: Any, prefix: str) -> T:
    """Return `cls(**data)` after checking keys and value types; `prefix` names the section."""
    if not isinstance(data, Mapping):
        raise WaveflowError(f"{prefix}: expected a mapping of keys, got {_describe(data)}")
    expand = getattr(cls, "expand_mapping", None)  # e.g. MelConfig's named presets
    if expand is not None:
        data = expand(data, prefix)
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    for key in data:
        if key not in fields:
            raise unknown_key_error(_join(prefix, str(key)), [_join(prefix, k) for k in fields])
    kwargs = {key: coerce(value, hints[key], _join(prefix, key)) for key, value in data.items()}
    for name, field in fields.items():
        no_default = field.default is dataclasses.MISSING
        if name not in kwargs and no_default and field.default_factory is dataclasses.MISSING:
            raise WaveflowError(f"missing key {_join(prefix, name)!r}")
    try:
        return cls(**kwargs)
    except WaveflowError:
        raise
    except (TypeError, ValueError) as err:
        raise WaveflowError(f"{prefix}: {err}") from err


def to_dict(obj: Any) -> Any:
    """Convert a dataclass (recursively) into plain dicts, lists and scalars."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_dict(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, Mapping):
        return {str(k): to_dict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_dict(v) for v in obj]
    return obj


def unknown_key_error(key: str, valid: list[str]) -> WaveflowError:
    """Return the error for an unknown dotted `key`, suggesting the closest of `valid` keys."""
    suggestion = closest_key(key, valid)
    hint = f" (did you mean {suggestion!r}?)" if suggestion else ""
    if not suggestion and valid:
        hint = f" (valid keys: {', '.join(valid)})"
    return WaveflowError(f"unknown key {key!r}{hint}")


def closest_key(key: str, valid: list[str]) -> str | None:
    """The valid key most similar to `key`: an abbreviation by initials, or a close spelling.

    Compares the last dotted component, so 'train.lerning_rate' matches 'train.lr' via the
    initials of 'lerning_rate', and 'train.batchsize' matches 'train.batch_size' by spelling.
    """
    leaf = key.rsplit(".", 1)[-1].lower()
    leaves = {v.rsplit(".", 1)[-1].lower(): v for v in valid}
    for candidate, full in leaves.items():
        abbreviates = _initials(leaf) == candidate or _initials(candidate) == leaf
        if abbreviates and "_" in leaf + candidate:
            return full
    close = difflib.get_close_matches(leaf, list(leaves), n=1, cutoff=0.4)
    return leaves[close[0]] if close else None


def coerce(value: Any, tp: Any, key: str) -> Any:
    """Check `value` against type `tp` and return it converted (lists to tuples, ints to floats)."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value, key)
    if origin is Literal:
        if value not in args:
            choices = ", ".join(repr(a) for a in args)
            raise WaveflowError(f"{key}: expected one of {choices}, got {value!r}")
        return value
    if origin is Union or origin is types.UnionType:
        return _coerce_union(value, args, key)
    if origin in (list, tuple):
        return _coerce_sequence(value, origin, args, key)
    if origin is dict:
        if not isinstance(value, Mapping):
            raise _type_error(key, "a mapping", value)
        return {str(k): coerce(v, args[1] if args else Any, f"{key}.{k}") for k, v in value.items()}
    return _coerce_scalar(value, tp, key)


def _coerce_union(value: Any, args: tuple[Any, ...], key: str) -> Any:
    if value is None:
        if type(None) in args:
            return None
        raise _type_error(key, " or ".join(_type_name(a) for a in args), value)
    errors = []
    for arg in args:
        if arg is type(None):
            continue
        try:
            return coerce(value, arg, key)
        except WaveflowError as err:
            errors.append(err)
    if len(errors) == 1:
        raise errors[0]
    raise _type_error(key, " or ".join(_type_name(a) for a in args), value)


def _coerce_sequence(value: Any, origin: type, args: tuple[Any, ...], key: str) -> Any:
    if not isinstance(value, (list, tuple)):
        raise _type_error(key, "a list", value)
    if origin is list:
        item = args[0] if args else Any
        return [coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if len(args) == 2 and args[1] is Ellipsis:
        return tuple(coerce(v, args[0], f"{key}[{i}]") for i, v in enumerate(value))
    if args and len(args) != len(value):
        raise WaveflowError(f"{key}: expected a list of {len(args)} values, got {len(value)}")
    item_types = args or (Any,) * len(value)
    return tuple(
        coerce(v, t, f"{key}[{i}]") for i, (v, t) in enumerate(zip(value, item_types, strict=True))
    )


def _coerce_scalar(value: Any, tp: Any, key: str) -> Any:
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
        raise _type_error(key, "float", value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise _type_error(key, "int", value)
    if tp in (bool, str):
        if isinstance(value, tp):
            return value
        raise _type_error(key, tp.__name__, value)
    if isinstance(tp, type):
        if isinstance(value, tp):
            return value
        raise _type_error(key, tp.__name__, value)
    raise WaveflowError(f"{key}: unsupported config field type {tp!r}")


def _type_error(key: str, expected: str, value: Any) -> WaveflowError:
    return WaveflowError(f"{key}: expected {expected}, got {_describe(value)}")


def _describe(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _initials(name: str) -> str:
    return "".join(part[0] for part in name.split("_") if part)


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key
