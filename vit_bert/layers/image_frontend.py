"""Image front-end: pixels to a token sequence, ViT-style.

Shapes: images (B, C, H, W) -> tokens (B, prefix + N, D), N = (H / P) * (W / P); a list of (C, H_i, W_i) images of
different sizes -> (B, prefix + N_max, D) with a mask (B, L), each image at its own grid (``forward_list``); so does a
dict of patches as timm's NaFlex or transformers' SigLIP 2 packs them (``patch_batches``).
224 x 224 with P = 16 gives 196 patch tokens; with [CLS] prepended, 197 (DINOv2 with 4 registers: 201).

Pixels become patch tokens through ``stem``: "patch" flattens each P x P x C patch and maps it
with one Linear layer (``patch_embed.py``), "conv" runs a small convolutional stem down to the
same grid (``conv_stem.py``). Then the prefix tokens are prepended and position embeddings are added
(unless ``pos_embed="none"``). The patches' (row, column) coordinates go to the encoder too, for rotary
positions (``rope_grid``: indices, or centres in [-1, 1] times 2 pi), moved at random in training where
``rope_shift`` / ``rope_jitter`` / ``rope_rescale`` say so (DINOv3's augmentation); the prefix tokens have none.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from einops import rearrange
from timm.layers import resample_abs_pos_embed, to_2tuple, trunc_normal_
from torch import nn

from ..errors import InputError
from .configs import ImageConfig
from .conv_stem import ConvStem
from .encoder_input import EncoderInput
from .patch_batches import images_from_patches
from .patch_embed import PatchEmbedding
from .pos_embed import sincos_2d
from .rotary import TokenPositions


STEMS = {"patch": PatchEmbedding, "conv": ConvStem}


class ImageFrontEnd(nn.Module):
    """(B, C, H, W) -> EncoderInput: tokens (B, prefix + N, D), no mask, the prefix count and the patch grid.

    Prefix tokens come in timm's order: [CLS], the distillation token, the registers. Position embeddings
    cover the prefix and the patches, or the patches alone (``no_embed_class``). Inputs of another size than
    ``img_size`` (H != W too) get their position embeddings resampled per axis (bicubic over the patch grid).
    """

    def __init__(self, config: ImageConfig | None = None, dim: int = 768, **fields):
        """``ImageFrontEnd(ImageConfig(...), dim)`` or ``ImageFrontEnd(img_size=32, patch_size=4, dim=192)``."""
        super().__init__()
        config = dataclasses.replace(config or ImageConfig(), **fields)
        self.config = config
        self.img_size = to_2tuple(config.img_size)
        self.patch_size = config.patch_size
        self.in_chans = config.in_chans
        self.grid = (self.img_size[0] // self.patch_size, self.img_size[1] // self.patch_size)
        self.num_prefix_tokens = config.num_prefix_tokens
        self.pos_embed_kind = config.pos_embed
        self.dim = dim

        self.patch_embed = STEMS[config.stem](config.patch_size, config.in_chans, dim, bias=config.patch_bias)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.class_token else None
        self.dist_token = nn.Parameter(torch.zeros(1, 1, dim)) if config.dist_token else None
        self.reg_token = nn.Parameter(torch.zeros(1, config.reg_tokens, dim)) if config.reg_tokens else None
        if config.pos_embed == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, self.positioned_prefix + self.grid[0] * self.grid[1], dim))
        elif config.pos_embed == "sincos":
            self.register_buffer("pos_embed", self._sincos(self.grid), persistent=False)
        else:
            self.pos_embed = None
        self.pos_drop = nn.Dropout(config.dropout)
        self.norm_pre = nn.LayerNorm(dim, eps=config.ln_eps) if config.norm_pre else nn.Identity()
        self._coordinates: dict[tuple, torch.Tensor] = {}  # (grid, device) -> patch_coordinates
        self.init_weights()

    @property
    def positioned_prefix(self) -> int:
        """How many prefix tokens have a position embedding: all of them, or none with ``no_embed_class``."""
        return 0 if self.config.no_embed_class else self.num_prefix_tokens

    def init_weights(self) -> None:
        """timm's ViT init: the patch projection keeps PyTorch's default (fan-in uniform), as timm's Conv2d does;
        learned positions and the distillation token ~ N(0, 0.02) truncated; [CLS] and registers ~ N(0, 1e-6)."""
        self.patch_embed.reset_parameters()
        for table in (self.pos_embed if isinstance(self.pos_embed, nn.Parameter) else None, self.dist_token):
            if table is not None:
                trunc_normal_(table, std=0.02)
        for token in (self.cls_token, self.reg_token):
            if token is not None:
                nn.init.normal_(token, std=1e-6)

    def _sincos(self, grid: tuple[int, int]) -> torch.Tensor:
        table = sincos_2d(grid, self.dim)
        prefix = table.new_zeros(self.positioned_prefix, table.shape[-1])  # prefix tokens get no position signal
        return torch.cat([prefix, table])[None]

    def patch_coordinates(self, grid: tuple[int, int], device: torch.device) -> torch.Tensor:
        """(h*w, 2) (row, column) coordinates of the patches, row by row, for rotary positions: indices (rescaled to span
        ``rope_ref_grid`` patches, as EVA-02's ref_feat_shape) or, with ``rope_grid="centered"``, patch centres in [-1, 1]
        times 2 pi (DINOv3's angle 2 pi * coordinate / period). In training, ``rope_shift`` / ``rope_jitter`` /
        ``rope_rescale`` move them by fresh random draws each call, in timm's order (shift, per-axis scale, shared scale)."""
        if self.training and self.config.rope_augments_on:
            return self._in_angle_units(augmented_coordinates(self._grid_coordinates(grid), self.config)).to(device)
        if torch.compiler.is_compiling() or torch.jit.is_tracing():  # a traced graph holds them as constants; no cache to write
            return self._in_angle_units(self._grid_coordinates(grid)).to(device)
        key = (grid, device)
        if key not in self._coordinates:  # made once per grid and device, not at every step; float32 whatever the model's dtype
            self._coordinates[key] = self._in_angle_units(self._grid_coordinates(grid)).to(device)
        return self._coordinates[key]

    def _grid_coordinates(self, grid: tuple[int, int]) -> torch.Tensor:
        """(h*w, 2) on the CPU, in the grid's own units: indices (or rescaled indices), or centres in [-1, 1]."""
        ref = self.config.rope_ref_grid
        if self.config.rope_grid == "index":
            axes = [torch.arange(n, dtype=torch.float32) / n * ref if ref else torch.arange(n, dtype=torch.float32) for n in grid]
        else:
            axes = [2.0 * (torch.arange(0.5, n, dtype=torch.float32) / n) - 1.0 for n in grid]
        return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).flatten(0, 1)

    def _in_angle_units(self, coordinates: torch.Tensor) -> torch.Tensor:
        return coordinates * (2 * math.pi) if self.config.rope_grid == "centered" else coordinates

    def position_embeddings(self, grid: tuple[int, int]) -> torch.Tensor | None:
        """(1, positioned prefix + h*w, D) for a patch grid (h, w); resampled when it differs from the configured grid.
        None with ``pos_embed="none"``."""
        if grid == self.grid or self.pos_embed is None:
            return self.pos_embed
        if self.pos_embed_kind == "sincos":
            return self._sincos(grid).to(self.pos_embed)
        keep_aspect = self.config.pos_embed_resize == "keep_aspect"
        size = [max(grid)] * 2 if keep_aspect else list(grid)
        table = resample_abs_pos_embed(self.pos_embed, new_size=size, old_size=list(self.grid), num_prefix_tokens=self.positioned_prefix,
                                       interpolation=self.config.pos_embed_interp)
        if not keep_aspect:
            return table
        prefix, patches = table[:, : self.positioned_prefix], table[:, self.positioned_prefix:]
        patches = rearrange(patches, "one (h w) d -> one h w d", h=size[0])[:, : grid[0], : grid[1]]
        return torch.cat([prefix, rearrange(patches, "one h w d -> one (h w) d")], dim=1)

    def prefix_tokens(self, batch: int) -> list[torch.Tensor]:
        """[CLS], the distillation token and the registers, each (B, n, D), in timm's order."""
        return [token.expand(batch, -1, -1) for token in (self.cls_token, self.dist_token, self.reg_token) if token is not None]

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

    def forward(self, images: torch.Tensor | list[torch.Tensor] | dict) -> EncoderInput:
        if isinstance(images, dict):  # timm's NaFlex or transformers' packed patches (``patch_batches``)
            return self.forward_list(images_from_patches(images, self.patch_size, self.in_chans))
        if isinstance(images, (list, tuple)):
            return self.forward_list(images)
        self.check_input(images)
        patches = self.patch_embed(images)
        grid = (images.shape[2] // self.patch_size, images.shape[3] // self.patch_size)
        positions = self.position_embeddings(grid)
        prefix = self.prefix_tokens(len(images))
        if positions is None:
            tokens = torch.cat([*prefix, patches], dim=1)
        elif self.config.no_embed_class:
            tokens = torch.cat([*prefix, patches + positions], dim=1)
        else:
            tokens = torch.cat([*prefix, patches], dim=1) + positions
        coordinates = TokenPositions(self.patch_coordinates(grid, images.device), self.num_prefix_tokens)
        return EncoderInput(self.norm_pre(self.pos_drop(tokens)), None, self.num_prefix_tokens, grid, coordinates)

    def forward_list(self, images: list[torch.Tensor] | tuple[torch.Tensor, ...]) -> EncoderInput:
        """Images of different sizes, each (C, H, W) with H and W multiples of the patch size -> one batch of tokens
        (B, prefix + N_max, D) padded at the end, its mask (B, L) True at each image's own tokens, and each image's patch
        coordinates (B, N_max, 2). Each image is embedded at its own grid, its position table resampled to that grid, as
        it would be alone; the Encoder's packed path keeps attention inside each image. ``grid`` is None: there is none
        shared."""
        if not images:
            raise InputError("an empty list of images: pass at least one (C, H, W) image")
        for index, image in enumerate(images):
            if not isinstance(image, torch.Tensor) or image.ndim != 3:
                shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
                raise InputError(f"images[{index}] is {shape}; a list of images takes one (C, H, W) tensor each")
        each = [self(image[None]) for image in images]
        longest = max(e.tokens.shape[1] for e in each)
        tokens = each[0].tokens.new_zeros(len(each), longest, self.dim)
        mask = torch.zeros(len(each), longest, dtype=torch.bool, device=tokens.device)
        coords = each[0].positions.coords.new_zeros(len(each), longest - self.num_prefix_tokens, each[0].positions.coords.shape[-1])
        for row, single in enumerate(each):
            length = single.tokens.shape[1]
            tokens[row, :length], mask[row, :length] = single.tokens[0], True
            coords[row, : length - self.num_prefix_tokens] = single.positions.coords
        return EncoderInput(tokens, mask, self.num_prefix_tokens, None, TokenPositions(coords, self.num_prefix_tokens))

    def forward_visible(self, images: torch.Tensor, kept: torch.Tensor) -> EncoderInput:
        """As ``forward``, keeping the prefix tokens and the patches whose indices ``kept`` (B, K) lists -> (B, prefix + K, D),
        each with its own position (MAE: the encoder reads the visible patches only)."""
        full = self(images)
        tokens, prefix = full.tokens, self.num_prefix_tokens
        if kept.ndim != 2 or len(kept) != len(tokens):
            raise InputError(f"kept must hold patch indices of shape (batch, K) = ({len(tokens)}, K); got {tuple(kept.shape)}")
        visible = tokens[:, prefix:].gather(1, kept[..., None].expand(-1, -1, tokens.shape[-1]))
        coords = full.positions.coords
        visible_coords = coords[kept]  # (B, K, 2): each sample's own visible patches
        return EncoderInput(torch.cat([tokens[:, :prefix], visible], dim=1), None, prefix, full.grid, TokenPositions(visible_coords, prefix))


def augmented_coordinates(coordinates: torch.Tensor, config: ImageConfig) -> torch.Tensor:
    """(N, 2) -> (N, 2) moved by one random transform: + a per-axis shift, * a per-axis scale, * one shared scale (each
    only when configured), drawn from torch's default generator in that order, as timm's and DINOv3's RoPE draw them."""
    axes = coordinates.shape[-1]
    if config.rope_shift is not None:
        coordinates = coordinates + torch.empty(axes, dtype=coordinates.dtype).uniform_(-config.rope_shift, config.rope_shift)
    if config.rope_jitter is not None:
        bound = math.log(config.rope_jitter)
        coordinates = coordinates * torch.empty(axes, dtype=coordinates.dtype).uniform_(-bound, bound).exp()
    if config.rope_rescale is not None:
        bound = math.log(config.rope_rescale)
        coordinates = coordinates * torch.empty(1, dtype=coordinates.dtype).uniform_(-bound, bound).exp()
    return coordinates
