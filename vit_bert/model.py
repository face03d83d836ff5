"""The model: front-end -> shared Encoder -> head, composed, for either modality.

    image: images (B, C, H, W)                              -> logits (B, num_classes)
           or a list of (C, H_i, W_i) images of different sizes -> (B, num_classes), each at its own grid (packed)
    text:  input_ids (B, T), attention_mask, token_type_ids -> logits (B, num_classes)
    text with head="mlm":                                     -> token logits (B, T, vocab_size)
    image with head="pixels":                                 -> patch pixels (B, N, P * P * C) (MAE's decoder)

``forward_features`` returns the encoder output (B, L, D); ``forward_head`` pools
and classifies; ``forward`` does both, and with ``return_attention=True``
returns ``(logits, attentions)``, a list of ``depth`` tensors (B, heads, L, L).
``forward_intermediates`` / ``prune_intermediate_layers``: each block's features for dense tasks, as timm's (``features.py``).
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import torch
from timm.layers import trunc_normal_
from timm.models._features import feature_take_indices
from tokenizers import Tokenizer
from torch import nn

from .config import DataContract, ModelConfig
from .errors import ConfigError, ConfigTypeError, InputError
from .features import forward_intermediates
from .folder_format import write_folder
from .formats import WRITERS
from .layers import ClassifierHead, Encoder, ImageFrontEnd, MaskedTokenHead, PixelDecoder, TextFrontEnd, unpatchify
from .layers.lora import LoRAConfig, add_lora, merge_lora, merged_state_dict
from .layers.registry import ACTIVATIONS


def build_frontend(config: ModelConfig) -> nn.Module:
    """The front-end of ``config.modality``; it initialises its own weights."""
    if config.modality == "image":
        return ImageFrontEnd(config.image_config, config.dim)
    return TextFrontEnd(config.text_config, config.dim)


@contextmanager
def eval_mode(module: nn.Module):
    """Run the block in eval mode (no dropout, no drop path), then restore the module's mode."""
    was_training = module.training
    module.eval()
    try:
        yield module
    finally:
        module.train(was_training)


def init_linear(module: nn.Module) -> None:
    # BERT and timm ViT both start the encoder's and head's Linear weights at std 0.02.
    if isinstance(module, nn.Linear):
        trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)


def build_head(config: ModelConfig) -> nn.Module:
    """The head ``config.head`` names; a classifier's Linear layers are initialised by the caller (``init_linear``)."""
    if config.head == "mlm":
        return MaskedTokenHead(config.dim, config.vocab_size, config.ln_eps, ACTIVATIONS[config.act], config.head_bias, config.norm_bias,
                               config.embed_dim)  # inits itself
    if config.head == "pixels":
        grid = (config.img_size // config.patch_size,) * 2
        return PixelDecoder(config.dim, config.heads, config.mlp_ratio, grid, config.num_prefix_tokens, config.patch_size ** 2 * config.in_chans,
                            config.ln_eps)  # inits itself
    return ClassifierHead(config.head_config, config.encoder_config, config.num_prefix_tokens, config.modality == "image" and config.dist_token)


class TransformerClassifier(nn.Module):
    def __init__(
        self, config: ModelConfig, *, frontend: nn.Module | None = None, encoder: Encoder | None = None, head: nn.Module | None = None
    ):
        """Builds what ``config`` describes; modules passed in are used as they are (a multi-task model's
        per-task views share its encoder this way, see ``multitask.py``)."""
        super().__init__()
        self.config = config
        self.frontend = frontend if frontend is not None else build_frontend(config)
        self.encoder = encoder if encoder is not None else Encoder(config.encoder_config)
        self.head = head if head is not None else build_head(config)
        # Built, then initialised in this order: a seed gives the same weights as it always has.
        if encoder is None:
            self.encoder.apply(init_linear)
        if head is None and config.head == "classifier":
            self.head.apply(init_linear)
        # What the data decided (set by train.py checkpoints and vit_bert folders); written by save_pretrained.
        self.data_contract: DataContract | None = None
        # Known without a contract from some sources (a Hugging Face folder's tokenizer, say).
        self.class_names: list[str] | None = None
        self.tokenizer: Tokenizer | None = None

    @property
    def modality(self) -> str:
        return self.config.modality

    def set_data_contract(self, contract: DataContract | None) -> None:
        """Attach what the data decided; class names and tokenizer follow from it."""
        self.data_contract = contract
        if contract is not None:
            self.class_names = list(contract.class_names)
            self.tokenizer = contract.load_tokenizer()

    def forward_features(self, *inputs, **kwargs) -> torch.Tensor:
        """Front-end + Encoder -> features (B, L, D). For text with ``pool="mean"``, pass the same
        attention_mask on to ``forward_head``."""
        encoder_input = self.frontend(*inputs, **kwargs)
        return self.encoder(encoder_input.tokens, encoder_input.mask, encoder_input.positions)

    def forward_head(self, features: torch.Tensor, attention_mask: torch.Tensor | None = None, *, pre_logits: bool = False) -> torch.Tensor:
        """(B, L, D) -> logits (B, num_classes), or the pooled (B, D) vector with ``pre_logits=True``;
        head="mlm": (B, T, D) -> (B, T, vocab_size); head="pixels": (B, prefix + N, D), every patch visible -> (B, N, P * P * C)."""
        if self.config.head == "mlm":
            return self.head(features, self.frontend.word_embeddings.weight)
        if self.config.head == "pixels":
            return self.head(features)
        mask = attention_mask.bool() if attention_mask is not None else None
        return self.head(features, mask, pre_logits=pre_logits)

    def forward(self, *inputs, return_attention: bool = False, **kwargs):
        """Logits (B, num_classes) (head="mlm": (B, T, vocab_size)); with ``return_attention=True``,
        ``(logits, attentions)`` from the explicit path."""
        encoder_input = self.frontend(*inputs, **kwargs)
        tokens, mask, positions = encoder_input.tokens, encoder_input.mask, encoder_input.positions
        if return_attention:
            features, attentions = self.encoder.forward_with_weights(tokens, mask, positions)
            return self.forward_head(features, mask), attentions
        if self.config.head != "classifier":
            return self.forward_head(self.encoder(tokens, mask, positions))
        if self.head.tokens_read is not None:
            # The head reads [CLS] (and DeiT's distillation token) only, so the last block computes those tokens alone
            # (same logits, ~1/depth less work).
            return self.head(self.encoder.forward_first(tokens, self.head.tokens_read, mask, positions), mask)
        return self.head(self.encoder(tokens, mask, positions), mask)

    def forward_masked(self, images: torch.Tensor, masked: torch.Tensor) -> torch.Tensor:
        """head="pixels", MAE: images (B, C, H, W), ``masked`` (B, N) True at the hidden patches (the same number
        in every row) -> predicted pixels of every patch (B, N, P * P * C). The encoder reads [CLS] and the
        visible patches only; the hidden pixels are zeroed first, so a conv stem cannot see across into them."""
        if self.config.head != "pixels":
            raise ConfigError(f"forward_masked needs a masked-patch model (head='pixels'); this one has head={self.config.head!r}")
        self.frontend.check_input(images)
        grid = (images.shape[2] // self.config.patch_size, images.shape[3] // self.config.patch_size)
        if masked.shape != (len(images), grid[0] * grid[1]):
            raise InputError(f"the patch mask has shape {tuple(masked.shape)}; expected (batch, patches) = {(len(images), grid[0] * grid[1])}")
        hidden = masked.sum(dim=1)
        if (hidden != hidden[0]).any():
            raise InputError(f"every image needs the same number of masked patches; got {sorted(set(hidden.tolist()))}")
        visible = masked.shape[1] - int(hidden[0])
        kept = masked.int().argsort(dim=1, stable=True)[:, :visible]  # (B, K) visible indices, ascending
        patch_pixels = self.config.patch_size ** 2 * images.shape[1]
        pixel_mask = unpatchify(masked[..., None].expand(-1, -1, patch_pixels), self.config.patch_size, grid)  # (B, C, H, W)
        visible = self.frontend.forward_visible(images.masked_fill(pixel_mask, 0), kept)
        return self.head(self.encoder(visible.tokens, None, visible.positions), kept)

    def forward_intermediates(self, *inputs, indices: int | list[int] | None = None, norm: bool = False, output_fmt: str | None = None,
                              intermediates_only: bool = False, stop_early: bool = False, return_prefix_tokens: bool = False,
                              output_dict: bool = False, **frontend_kwargs):
        """Each taken block's output for dense tasks, as timm's ``forward_intermediates`` gives it (see ``features.py``)."""
        return forward_intermediates(self, *inputs, indices=indices, norm=norm, output_fmt=output_fmt, intermediates_only=intermediates_only,
                                     stop_early=stop_early, return_prefix_tokens=return_prefix_tokens, output_dict=output_dict,
                                     **frontend_kwargs)

    def prune_intermediate_layers(self, indices: int | list[int] = 1, *, prune_norm: bool = False, prune_head: bool = True) -> list[int]:
        """timm's: keep the blocks up to the last of ``indices`` (the config's depth follows), drop the head (num_classes=0:
        the pooled features) and, with ``prune_norm``, the final norm. -> the indices kept, as ``forward_intermediates`` takes them."""
        take, last = feature_take_indices(len(self.encoder.blocks), indices)
        self.encoder.blocks = self.encoder.blocks[: last + 1]
        self.config = self.config.replace(depth=last + 1, **({"final_norm": False} if prune_norm else {}))
        self.encoder.config = self.config.encoder_config
        if prune_norm:
            self.encoder.norm = nn.Identity()
        if prune_head:
            self.config = self.config.replace(num_classes=0, head_pooler=False)
            self.head = build_head(self.config)
            self.class_names = None
        return take

    def add_lora(self, rank: int = 8, alpha: float = 16.0, targets: tuple[str, ...] = ("q", "v")) -> list[str]:
        """LoRA adapters on the encoder's projections (``layers/lora.py``); afterwards only they and the head train.
        -> the adapted weights' names. ``save_pretrained`` (every format) and ``merge_lora`` fold them into plain weights."""
        adapted = add_lora(self.encoder, LoRAConfig(rank, alpha, tuple(targets)))
        for name, param in self.named_parameters():
            param.requires_grad = ".parametrizations.weight.0." in name or name.startswith("head.")
        return adapted

    def merge_lora(self) -> int:
        """Fold the LoRA updates into plain weights (every parameter trains again); -> how many weights were merged."""
        merged = merge_lora(self.encoder)
        for param in self.parameters():
            param.requires_grad = True
        return merged

    def plain_state_dict(self) -> dict[str, torch.Tensor]:
        """The state dict with any LoRA updates folded in: the keys of a model without adapters."""
        return merged_state_dict(self.state_dict())

    def save_pretrained(self, directory: str | Path, tokenizer: Tokenizer | str | Path | None = None, class_names: list[str] | None = None,
                        *, format: str = "vit_bert") -> Path:
        """config.json + model.safetensors (+ tokenizer.json) in ``directory``; ``vit_bert.load_pretrained(directory)`` reads it back.

        ``tokenizer`` and ``class_names`` default to what the model carries. ``format="timm"`` or ``"transformers"``: a folder
        that library loads (``timm.create_model("local-dir:" + dir)``, ``AutoModel.from_pretrained(dir)``), computing the
        same function; vit_bert reads those back too."""
        if format != "vit_bert":
            if format not in WRITERS:
                raise ConfigError(f"format={format!r}: expected 'vit_bert' or one of {', '.join(map(repr, WRITERS))}")
            if tokenizer is not None or class_names is not None:
                raise ConfigError(f"format={format!r} writes the tokenizer and class names the model carries; set them on the model first")
            return WRITERS[format](self, directory)
        return write_folder(
            directory, self.config, self.plain_state_dict(), self.data_contract,
            tokenizer if tokenizer is not None else self.tokenizer, class_names if class_names is not None else self.class_names,
        )


def build_model(name_or_config: str | ModelConfig | dict = "vit-b/16", **overrides) -> TransformerClassifier:
    """``build_model("vit-b/16", num_classes=10)``; ``build_model("bert-mini", num_classes=2, vocab_size=30522)``.

    Accepts a preset name, a ModelConfig or a dict of ModelConfig fields; keyword
    overrides replace single fields (unknown keys raise KeyError with a suggestion).
    """
    if isinstance(name_or_config, str):
        config = ModelConfig.from_name(name_or_config, **overrides)
    elif isinstance(name_or_config, ModelConfig):
        config = name_or_config.replace(**overrides)
    elif isinstance(name_or_config, dict):
        config = ModelConfig.from_dict({**name_or_config, **overrides})
    else:
        raise ConfigTypeError(f"build_model takes a preset name, a ModelConfig or a dict; got {type(name_or_config).__name__}")
    return TransformerClassifier(config)
