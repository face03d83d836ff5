"""Image front-end: pixels to a token sequence, ViT-style.

Shapes: images (B, C, H, W) -> tokens (B, 1 + N, D), N = (H / P) * (W / P).
224 x 224 with P = 16 gives 196 patch tokens; with [CLS] prepended, 197.

Pixels become patch tokens through ``stem``: "patch" flattens each P x P x C patch and maps it
with one Linear layer (``patch_embed.py``), "conv" runs a small convolutional stem down to the
same grid (``conv_stem.py``). Then [CLS] is prepended and position embeddings are added.
"""

from __future__ import annotations

import torch
from timm.layers import resample_abs_pos_embed, to_2tuple, trunc_normal_
from torch import nn

from ..errors import InputError
from .checks import check_choice, check_patch_grid
from .conv_stem import ConvStem
from .patch_embed import PatchEmbedding
from .pos_embed import sincos_2d


STEMS = {"patch": PatchEmbedding, "conv": ConvStem}


class ImageFrontEnd(nn.Module):
    """(B, C, H, W) -> ((B, prefix + N, D), None). Prefix is 1 with a [CLS] token, else 0.

    The second output is the attention mask, always None for images (no padding).
    Inputs of another size than ``img_size`` get their position embeddings
    resampled (bicubic over the patch grid) instead of failing.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int = 16,
        in_chans: int = 3,
        dim: int = 768,
        class_token: bool = True,
        pos_embed: str = "learned",
        dropout: float = 0.0,
        stem: str = "patch",
    ):
        super().__init__()
        img_size = to_2tuple(img_size)
        for side in img_size:
            check_patch_grid(side, patch_size)
        check_choice("stem", stem, STEMS)
        check_choice("pos_embed", pos_embed, ("learned", "sincos"))
        self.img_size = img_size
        self.patch_size = patch_size
        self.in_chans = in_chans
        self.grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.num_prefix_tokens = 1 if class_token else 0
        self.pos_embed_kind = pos_embed
        self.dim = dim

        self.patch_embed = STEMS[stem](patch_size, in_chans, dim)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if class_token else None
        num_positions = self.num_prefix_tokens + self.grid[0] * self.grid[1]
        if pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, num_positions, dim))
        else:
            self.register_buffer("pos_embed", self._sincos(self.grid), persistent=False)
        self.pos_drop = nn.Dropout(dropout)
        self.init_weights()

    def init_weights(self) -> None:
        """timm's ViT init: the patch projection keeps PyTorch's default (fan-in uniform), as timm's Conv2d does;
        learned positions ~ N(0, 0.02) truncated; [CLS] ~ N(0, 1e-6)."""
        self.patch_embed.reset_parameters()
        if isinstance(self.pos_embed, nn.Parameter):
            trunc_normal_(self.pos_embed, std=0.02)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=1e-6)

    def _sincos(self, grid: tuple[int, int]) -> torch.Tensor:
        table = sincos_2d(grid, self.dim)
        prefix = table.new_zeros(self.num_prefix_tokens, table.shape[-1])  # [CLS] gets no position signal
        return torch.cat([prefix, table])[None]

    def position_embeddings(self, grid: tuple[int, int]) -> torch.Tensor:
        """(1, prefix + h*w, D) for a patch grid (h, w); resampled when it differs from the configured grid."""
        if grid == self.grid:
            return self.pos_embed
        if self.pos_embed_kind == "sincos":
            return self._sincos(grid).to(self.pos_embed)
        return resample_abs_pos_embed(
            self.pos_embed, new_size=list(grid), old_size=list(self.grid), num_prefix_tokens=self.num_prefix_tokens
        )

    def check_input(self, images: torch.Tensor) -> None:
        if images.ndim != 4:
            raise InputError(f"images must have shape (B, C, H, W); got a tensor of shape {tuple(images.shape)}")
        _, channels, height, width = images.shape
        if channels != self.in_chans:
            raise InputError(f"expected {self.in_chans} image channels; got {channels} (input shape {tuple(images.shape)})")
        if height % self.patch_size or width % self.patch_size:
            raise InputError(
                f"image size {height}x{width} is not divisible by the patch size {self.patch_size}; "
                f"expected height and width that are multiples of {self.patch_size} (configured: {self.img_size})"
            )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, None]:
        self.check_input(images)
        patches = self.patch_embed(images)
        grid = (images.shape[2] // self.patch_size, images.shape[3] // self.patch_size)
        if self.cls_token is not None:
            patches = torch.cat([self.cls_token.expand(patches.shape[0], -1, -1), patches], dim=1)
        return self.pos_drop(patches + self.position_embeddings(grid)), None

    def forward_visible(self, images: torch.Tensor, kept: torch.Tensor) -> tuple[torch.Tensor, None]:
        """As ``forward``, keeping [CLS] and the patches whose indices ``kept`` (B, K) lists -> (B, prefix + K, D),
        each with its own position (MAE: the encoder reads the visible patches only)."""
        tokens, _ = self(images)
        prefix = self.num_prefix_tokens
        if kept.ndim != 2 or len(kept) != len(tokens):
            raise InputError(f"kept must hold patch indices of shape (batch, K) = ({len(tokens)}, K); got {tuple(kept.shape)}")
        visible = tokens[:, prefix:].gather(1, kept[..., None].expand(-1, -1, tokens.shape[-1]))
        return torch.cat([tokens[:, :prefix], visible], dim=1), None
