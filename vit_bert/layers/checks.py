"""Argument checks shared by the layers and ModelConfig: one wording for each rule, one place to change it.

Each raises ``ConfigError`` (a ``ValueError``) naming the setting, what was given and what is expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing

from ..errors import ConfigError, ConfigTypeError


def check_types(instance, what: str) -> None:
    """Each field of a dataclass instance against its annotation (ints become floats where a float is expected)."""
    hints = typing.get_type_hints(type(instance))
    for f in dataclasses.fields(instance):
        value, expected = getattr(instance, f.name), hints[f.name]
        optional = typing.get_origin(expected) in (typing.Union, types.UnionType)
        if optional and value is None:
            continue
        if optional:
            expected = next(a for a in typing.get_args(expected) if a is not type(None))
        base = typing.get_origin(expected) or expected
        if base is float and isinstance(value, int) and not isinstance(value, bool):
            setattr(instance, f.name, float(value))
        elif not isinstance(value, base) or (base is int and isinstance(value, bool)):
            raise ConfigTypeError(f"{what} '{f.name}' must be {base.__name__}; got {value!r} ({type(value).__name__})")


def check_choice(name: str, value, choices) -> None:
    if value not in choices:
        raise ConfigError(f"model config '{name}' must be one of {tuple(choices)}; got {value!r}")


def check_positive(name: str, value) -> None:
    if value <= 0:
        raise ConfigError(f"model config '{name}' must be positive; got {value}")


def check_heads(dim: int, heads: int) -> None:
    if dim % heads:
        raise ConfigError(f"dim must be divisible by heads; got dim={dim}, heads={heads}")


def check_patch_grid(img_size: int, patch_size: int) -> None:
    if img_size % patch_size:
        raise ConfigError(
            f"img_size {img_size} is not divisible by patch_size {patch_size}; "
            f"expected a multiple of {patch_size} (e.g. {img_size // patch_size * patch_size or patch_size})"
        )


def check_power_of_two_patch(patch_size: int) -> None:
    if patch_size < 2 or patch_size & (patch_size - 1):
        raise ConfigError(f"stem='conv' needs a patch_size that is a power of 2 (2, 4, 8, 16, ...); got {patch_size}")


def head_counts(dim: int) -> list[int]:
    """The head counts a width can be split into."""
    return [h for h in range(1, dim + 1) if dim % h == 0]


def check_bounds(values, bounds: dict, where: str) -> None:
    """``values`` (a mapping) against ``bounds`` (name -> (allowed(value) -> bool, what is allowed)); names it lacks or that
    are None are skipped. The first one out of bounds stops with one line: ``{where}.{name} must be ...``."""
    for name, (allowed, what) in bounds.items():
        value = values.get(name)
        if value is not None and not allowed(value):
            raise ConfigError(f"{where}.{name} must be {what}; got {list(value) if isinstance(value, tuple) else value}")
