"""Skip the padding: run the token-wise layers on real tokens only.

A padded text batch (B, L, D) with mask (B, L) holds N <= B*L real tokens. LayerNorm, the Q/K/V
and output projections and the MLP act on each token alone, so they can run on the packed (N, D)
tokens; only attention needs the (B, heads, L, d) layout, and gets it by scattering back.
With ~30 % padding that removes ~30 % of the matmul work, as BERT "unpadding" kernels do.

    packing = Packing.from_mask(mask)     # None when there is no padding
    packing.pack(x)   (B, L, ...) -> (N, ...)
    packing.unpack(y) (N, ...)    -> (B, L, ...), zeros at padded positions
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class Packing:
    index: torch.Tensor
    """(N,) positions of the real tokens in the flattened B*L batch."""
    batch: int
    length: int
    mask: torch.Tensor
    """(B, L) bool, True = real token."""

    @classmethod
    def from_mask(cls, mask: torch.Tensor) -> "Packing | None":
        if bool(mask.all()):
            return None
        return cls(mask.reshape(-1).nonzero().squeeze(1), mask.shape[0], mask.shape[1], mask)

    def pack(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(self.batch * self.length, *x.shape[2:]).index_select(0, self.index)

    def unpack(self, x: torch.Tensor) -> torch.Tensor:
        out = x.new_zeros(self.batch * self.length, *x.shape[1:]).index_copy_(0, self.index, x)
        return out.view(self.batch, self.length, *x.shape[1:])
