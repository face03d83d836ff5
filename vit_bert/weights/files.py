"""Read tensors from weight files without ever running code from them.

    read_state_dict(path) -> {name: tensor}

``.safetensors`` files are read with safetensors; everything else (``.pth``,
``.pt``, ``.bin``, ``.ckpt``) with ``torch.load(weights_only=True)``, which refuses
pickles that would import or call anything. Common wrappers ({"state_dict": ...},
{"model": ...}) are unwrapped.
"""

from __future__ import annotations

import pickle
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from ..errors import UnsafeCheckpointError, WeightsFileError


def load_pickle_safely(path: str | Path) -> object:
    """``torch.load(weights_only=True)`` with errors that say what happened and what to do."""
    path = Path(path)
    if not path.is_file():
        raise WeightsFileError(f"weights file {path} does not exist")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if "weights_only" in str(err) or "Unsupported global" in str(err):
            raise UnsafeCheckpointError(
                f"refusing to load {path}: it is a pickle that would import or run code "
                f"({str(err).splitlines()[0][:200]}). Only tensors and plain containers are loaded; "
                "if you trust the file's author, convert it to safetensors yourself"
            ) from None
        raise WeightsFileError(f"cannot read {path}: it is corrupt or not a PyTorch file ({err})") from None
    except Exception as err:  # noqa: BLE001 a corrupt zip or pickle raises many kinds inside torch.load (IndexError, KeyError ...)
        first = str(err).splitlines()[0][:200] if str(err) else "corrupt"
        raise WeightsFileError(f"cannot read {path}: truncated or not a PyTorch file ({type(err).__name__}: {first})") from None


def _unwrap(obj: object, path: Path) -> dict[str, torch.Tensor]:
    for key in ("state_dict", "model", "module"):
        if isinstance(obj, dict) and isinstance(obj.get(key), dict):
            obj = obj[key]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsFileError(f"{path} does not hold a state dict (a mapping of parameter names to tensors)")
    return obj


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """A weights file -> its state dict, on the CPU."""
    path = Path(path)
    if path.suffix == ".safetensors":
        if not path.is_file():
            raise WeightsFileError(f"weights file {path} does not exist")
        try:
            return load_file(path)
        except (SafetensorError, OSError) as err:
            raise WeightsFileError(f"cannot read {path}: truncated or not a safetensors file ({err})") from None
    return _unwrap(load_pickle_safely(path), path)
