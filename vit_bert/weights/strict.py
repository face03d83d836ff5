"""All-or-nothing loading: ``check_weights_fit(model, state_dict, allowed_missing)`` raises WeightsMismatchError naming
missing keys, unexpected keys and disagreeing shapes; ``load_weights_strict`` loads every tensor or none."""

from __future__ import annotations

import torch

from ..errors import WeightsMismatchError


def check_weights_fit(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], allowed_missing: set[str] = frozenset()) -> None:
    """Raise WeightsMismatchError naming missing keys, unexpected keys and shape mismatches; load nothing."""
    expected = model.state_dict()
    missing = sorted(k for k in expected if k not in state_dict and k not in allowed_missing)
    unexpected = sorted(k for k in state_dict if k not in expected)
    shapes = sorted(
        f"{k}: weights {tuple(v.shape)} vs model {tuple(expected[k].shape)}"
        for k, v in state_dict.items() if k in expected and v.shape != expected[k].shape
    )
    if missing or unexpected or shapes:
        parts = [f"{title} ({len(items)}): {', '.join(items[:12])}{' ...' if len(items) > 12 else ''}"
                 for title, items in (("missing keys", missing), ("unexpected keys", unexpected), ("shape mismatches", shapes)) if items]
        raise WeightsMismatchError("the weights do not fit the model; nothing was loaded. " + "; ".join(parts))


def load_weights_strict(model: torch.nn.Module, state_dict: dict[str, torch.Tensor], allowed_missing: set[str] = frozenset()) -> None:
    """Load every tensor or none: raises WeightsMismatchError naming what does not fit."""
    check_weights_fit(model, state_dict, allowed_missing)
    model.load_state_dict(state_dict, strict=False)
