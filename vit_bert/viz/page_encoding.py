"""How the explorer page stores arrays: compact, and decoded by the page's own script (assets/explorer.js).

    blob(array, dtype) -> {"dtype", "shape", "data"}: little-endian byte planes, deflated (zlib), base85 (RFC 1924's
        alphabet, which needs no escaping in JSON or HTML)
    quantised_rows(weights (..., L)) -> (uint8 codes (..., L), float32 row maxima (...)); dequantised_rows: back
"""

from __future__ import annotations

import zlib

import numpy as np
import torch
from einops import rearrange


def blob(array: torch.Tensor | np.ndarray, dtype: str) -> dict:
    """float32 values are stored byte plane by byte plane (all first bytes, then all second, ...): the planes of
    the exponents repeat, so deflate packs them about 8 % smaller than the values as they lie in memory."""
    values = np.ascontiguousarray(np.asarray(array, dtype=np.dtype(dtype).newbyteorder("<")))
    planes = rearrange(values.reshape(-1).view(np.uint8), "(n b) -> (b n)", b=values.itemsize)
    packed = base85(zlib.compress(planes.tobytes(), 9))
    return {"dtype": dtype, "shape": list(values.shape), "data": packed}


B85 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz!#$%&()*+-;<=>?@^_`{|}~", dtype=np.uint8)


def base85(data: bytes) -> str:
    """``base64.b85encode(data)``, vectorised (the standard library's is pure Python: seconds for a ViT-B page):
    each 4 bytes, big-endian, become 5 digits in base 85; a short last group is padded with zeros and cut back."""
    pad = -len(data) % 4
    words = np.frombuffer(data + b"\0" * pad, dtype=">u4").astype(np.uint64)
    digits = np.empty((len(words), 5), dtype=np.uint8)
    for place in range(4, -1, -1):
        words, digits[:, place] = np.divmod(words, 85)
    return B85[digits.reshape(-1)].tobytes()[: len(digits) * 5 - pad].decode("ascii")


def quantised_rows(weights: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(..., L) rows of attention weights -> (uint8 codes, float32 row maxima); code = round(255 w / max)."""
    scales = weights.amax(dim=-1).clamp_min(1e-30)
    codes = (weights / scales[..., None] * 255).round().clamp(0, 255).to(torch.uint8)
    return codes.numpy(), scales.float().numpy()


def dequantised_rows(codes: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """The weights the page shows, as the page decodes them."""
    return codes.astype(np.float32) * (scales[..., None] / np.float32(255))
