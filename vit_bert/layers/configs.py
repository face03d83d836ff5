"""The settings of each building block, one dataclass per module that takes it.

    EncoderConfig   -> Encoder, Block, SelfAttention   (dim, depth, heads, norm, MLP, LayerScale, ...)
    ImageConfig     -> ImageFrontEnd                   (patch size, prefix tokens, position embeddings, ...)
    TextConfig      -> TextFrontEnd                    (vocabulary, position table, token types)
    HeadConfig      -> the head (ClassifierHead, MaskedTokenHead, PixelDecoder)

``vit_bert.ModelConfig`` composes all four (their field names are unique, except ``dropout``, ``ln_eps`` and
``norm_bias``, which every part that has them shares), so a field list is never written out: it is
``field_names(EncoderConfig)``, and so on. A new knob is one field here plus its use in one module.
Fields whose value pretrained weights fix are marked with ``fixed_by_weights``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from .checks import check_choice, check_heads, check_patch_grid, check_positive, check_power_of_two_patch, check_types
from .registry import ACTIVATIONS, MLPS, NORMS
from .rotary import LAYOUTS as ROPE_LAYOUTS
from ..errors import ConfigError


ROPE_AUGMENTS = ("rope_shift", "rope_jitter", "rope_rescale")  # ImageConfig's training-time moves of the rotary coordinates


def fixed_by_weights(default):
    """A field whose value pretrained weights decide: another value would not fit them, or would compute something else."""
    return field(default=default, metadata={"fixed_by_weights": True})


def field_names(section) -> list[str]:
    return [f.name for f in dataclasses.fields(section)]


def weight_fixed_names(section) -> list[str]:
    return [f.name for f in dataclasses.fields(section) if f.metadata.get("fixed_by_weights")]


def section_of(section: type, values) -> object:
    """The ``section`` dataclass with the same-named fields of ``values`` (a ModelConfig, say)."""
    return section(**{name: getattr(values, name) for name in field_names(section)})


class _Section:
    """Each section checks its field types and values when made."""

    def __post_init__(self):
        check_types(self, type(self).__name__)
        self.check()


@dataclass
class EncoderConfig(_Section):
    """The shared Encoder's settings (every Block alike)."""

    dim: int = fixed_by_weights(768)
    """Token width D."""
    depth: int = fixed_by_weights(12)
    """Number of Transformer blocks."""
    heads: int = fixed_by_weights(12)
    """Attention heads; each head works in D / heads dimensions (768 / 12 = 64)."""
    mlp_ratio: float = fixed_by_weights(4.0)
    """MLP hidden width = mlp_ratio * D (unless mlp_hidden is set)."""
    mlp_hidden: int | None = fixed_by_weights(None)
    """MLP hidden width in units; for mlp='glu' the width of the gated product (fc1 makes twice that). None: mlp_ratio * D."""
    mlp: str = fixed_by_weights("mlp")
    """MLP kind: 'mlp' (fc1 -> act -> fc2, ViT and BERT) or 'glu' (fc1 makes two halves, act(a) * b -> fc2: with act='silu'
    it is SwiGLU, timm's SwiGLUPacked; with 'gelu' GeGLU)."""
    act: str = fixed_by_weights("gelu")
    """MLP activation: 'gelu' (exact erf, timm ViT and BERT), 'gelu_tanh' (HF 'gelu_new'), 'quick_gelu' (x * sigmoid(1.702 x),
    OpenAI CLIP) or 'silu'."""
    pre_norm: bool = fixed_by_weights(True)
    """True: norm before attention/MLP (ViT). False: after the residual add (BERT)."""
    norm: str = fixed_by_weights("layernorm")
    """Norm layer of the blocks, the final norm and QK-norm: 'layernorm' or 'rmsnorm'."""
    ln_eps: float = 1e-6
    """Norm epsilon (timm ViT 1e-6, CLIP 1e-5, BERT 1e-12)."""
    final_norm: bool = fixed_by_weights(True)
    """Pre-norm encoders end with a norm; False when the head normalises after pooling instead (fc_norm)."""
    qkv_bias: bool = fixed_by_weights(True)
    """Bias in the fused Q, K, V projection."""
    k_bias: bool = fixed_by_weights(True)
    """With qkv_bias: keys have a bias too. False: queries and values only (EVA-02, BEiT), the key rows held at zero."""
    proj_bias: bool = fixed_by_weights(True)
    """Bias in the attention output projection."""
    mlp_bias: bool = fixed_by_weights(True)
    """Bias in the MLP's two projections."""
    qk_norm: bool = fixed_by_weights(False)
    """Normalise each head's queries and keys before their dot product (timm's qk_norm; ViT-22B)."""
    layer_scale: float | None = fixed_by_weights(None)
    """LayerScale: a learned per-channel scale on each residual branch, started at this value (CaiT, DeiT III 1e-6,
    DINOv2 1e-5). None: off."""
    norm_bias: bool = fixed_by_weights(True)
    """Bias in the LayerNorms (False in ModernBERT)."""
    first_norm: bool = fixed_by_weights(True)
    """Block 0 of a pre-norm encoder normalises its attention input; False when the front-end's output is normalised
    already (ModernBERT's embedding norm)."""
    mlp_norm: bool = fixed_by_weights(False)
    """A norm inside the MLP, between the (gated) hidden layer and fc2 (EVA-02's scale_mlp)."""
    rope_theta: float | None = fixed_by_weights(None)
    """Rotary position embeddings on queries and keys, with this base (ModernBERT's global layers 160000, EVA-02 10000,
    DINOv3 100): 1-D over token positions for text, 2-D over the patch grid for images. None: no rotary positions."""
    rope_local_theta: float | None = fixed_by_weights(None)
    """The rotary base of the local-attention layers (ModernBERT 10000). None: rope_theta."""
    rope_layout: str = fixed_by_weights("half")
    """Which channels each rotary angle turns together: 'half' (channel i with i + d/2: Hugging Face, ModernBERT, DINOv3)
    or 'interleaved' (2i with 2i + 1: EVA-02)."""
    local_window: int | None = fixed_by_weights(None)
    """Local attention: in local layers a token reads only the tokens at most local_window // 2 positions away
    (ModernBERT 128). None: every layer attends globally."""
    global_every: int = fixed_by_weights(1)
    """With local_window: layers 0, n, 2n, ... attend globally and the others locally (ModernBERT 3)."""
    dropout: float = 0.0
    """Dropout on embeddings, attention output and MLP."""
    attn_dropout: float = 0.0
    """Dropout on the attention weights."""
    drop_path: float = 0.0
    """Stochastic depth rate of the last block (linearly increasing from 0)."""
    grad_checkpointing: bool = False
    """Recompute block activations in backward to save memory."""

    def check(self) -> None:
        for name in ("dim", "depth", "heads"):
            check_positive(name, getattr(self, name))
        if self.mlp_hidden is not None:
            check_positive("mlp_hidden", self.mlp_hidden)
        check_heads(self.dim, self.heads)
        check_choice("act", self.act, ACTIVATIONS)
        check_choice("mlp", self.mlp, MLPS)
        check_choice("norm", self.norm, NORMS)
        if self.layer_scale is not None and self.layer_scale <= 0:
            raise ConfigError(f"model config 'layer_scale' is the initial scale (e.g. 1e-5) or None for off; got {self.layer_scale}")
        if self.mlp_norm and self.mlp != "glu":
            raise ConfigError("mlp_norm=True puts a norm inside the gated MLP; it needs mlp='glu'")
        if not self.k_bias and not self.qkv_bias:
            raise ConfigError("k_bias=False leaves the keys out of the Q, K, V bias; it needs qkv_bias=True")
        if not self.first_norm and not self.pre_norm:
            raise ConfigError("first_norm=False leaves out block 0's attention norm of a pre-norm encoder; it needs pre_norm=True")
        check_choice("rope_layout", self.rope_layout, ROPE_LAYOUTS)
        for name in ("rope_theta", "rope_local_theta", "local_window"):
            if getattr(self, name) is not None:
                check_positive(name, getattr(self, name))
        check_positive("global_every", self.global_every)
        if self.rope_theta is not None and self.head_dim % 4:
            raise ConfigError(f"rotary positions turn pairs of channels on up to two axes: the head width dim / heads must be a "
                              f"multiple of 4; got {self.head_dim}")
        if self.rope_local_theta is not None and (self.rope_theta is None or self.local_window is None):
            raise ConfigError("rope_local_theta is the rotary base of local layers: it needs rope_theta and local_window")

    @property
    def head_dim(self) -> int:
        return self.dim // self.heads

    def is_local(self, layer: int) -> bool:
        """Whether block ``layer`` attends within the local window."""
        return self.local_window is not None and layer % self.global_every != 0

    def layer_rope_theta(self, layer: int) -> float | None:
        """The rotary base of block ``layer`` (None: no rotary positions)."""
        if self.rope_local_theta is not None and self.is_local(layer):
            return self.rope_local_theta
        return self.rope_theta

    @property
    def hidden_width(self) -> int:
        return self.mlp_hidden if self.mlp_hidden is not None else int(self.dim * self.mlp_ratio)


@dataclass
class ImageConfig(_Section):
    """The image front-end's settings: pixels -> [prefix tokens] + patch tokens."""

    img_size: int = 224
    """Configured input size (square); other sizes, H != W too, resample the position embeddings per axis."""
    patch_size: int = fixed_by_weights(16)
    """Patch side P: a P x P x C patch becomes one token."""
    stem: str = fixed_by_weights("patch")
    """How pixels become tokens: 'patch' (one Linear per flattened patch, ViT) or 'conv' (stride-2 3x3
    conv stages down to the same grid, for small data and short budgets; P must be a power of 2)."""
    patch_bias: bool = fixed_by_weights(True)
    """Bias in the patch projection (False in CLIP)."""
    in_chans: int = fixed_by_weights(3)
    """Image channels."""
    class_token: bool = fixed_by_weights(True)
    """Prepend a learned [CLS] token to image patches."""
    dist_token: bool = fixed_by_weights(False)
    """DeiT's distillation token after [CLS], with its own classifier; the logits are the mean of the two heads."""
    reg_tokens: int = fixed_by_weights(0)
    """Register tokens after [CLS] (Darcet et al. 2023; DINOv2 with registers has 4): extra prefix tokens no head reads."""
    pos_embed: str = fixed_by_weights("learned")
    """Image position embeddings added to the tokens: 'learned', fixed 2D 'sincos', or 'none' (rotary positions only: DINOv3)."""
    rope_grid: str = fixed_by_weights("index")
    """The patch coordinates that rotary positions (rope_theta) turn by: 'index' (row and column numbers, EVA-02) or
    'centered' (patch centres scaled to [-1, 1] per axis, times 2 pi: DINOv3)."""
    rope_ref_grid: int | None = fixed_by_weights(None)
    """With rope_grid='index': coordinates are rescaled so that any grid spans this many patches per side (EVA-02's
    ref_feat_shape, its pretraining grid: 16 for 224 / 14). None: plain indices."""
    rope_shift: float | None = None
    """Training only: every step, one random shift of the rotary patch coordinates per axis, uniform in [-s, s], in
    the grid's units (the [-1, 1] grid for rope_grid='centered'; DINOv3's shift_coords). None: off."""
    rope_jitter: float | None = None
    """Training only: one random scale per axis, log-uniform in [1/J, J], J >= 1 (DINOv3's jitter_coords). None: off."""
    rope_rescale: float | None = None
    """Training only: one random scale for both axes, log-uniform in [1/R, R], R >= 1 (DINOv3's rescale_coords). None: off."""
    pos_embed_interp: str = fixed_by_weights("bicubic")
    """How a learned position table is resampled to another patch grid, antialiased as timm does: 'bicubic' (timm's
    ViTs, NaFlexVit) or 'bilinear' (NaFlexVit's SigLIP)."""
    pos_embed_resize: str = fixed_by_weights("stretch")
    """How a learned position table meets another grid: 'stretch' (resampled to the grid) or 'keep_aspect' (resampled to
    a square of the grid's longer side, then the grid's rows and columns taken: NaFlexVit's aspect-preserving ``_par``)."""
    no_embed_class: bool = fixed_by_weights(False)
    """Position embeddings on the patches only, none for the prefix tokens (timm's no_embed_class: DeiT III, DINOv2 with registers)."""
    norm_pre: bool = fixed_by_weights(False)
    """A LayerNorm over the tokens before the encoder (CLIP's ln_pre)."""
    ln_eps: float = 1e-6
    """Norm epsilon."""
    dropout: float = 0.0
    """Dropout on embeddings, attention output and MLP."""

    def check(self) -> None:
        for name in ("patch_size", "img_size", "in_chans"):
            check_positive(name, getattr(self, name))
        if self.reg_tokens < 0:
            raise ConfigError(f"model config 'reg_tokens' must be >= 0; got {self.reg_tokens}")
        check_choice("stem", self.stem, ("patch", "conv"))
        check_choice("pos_embed", self.pos_embed, ("learned", "sincos", "none"))
        check_choice("rope_grid", self.rope_grid, ("index", "centered"))
        check_choice("pos_embed_interp", self.pos_embed_interp, ("bicubic", "bilinear"))
        check_choice("pos_embed_resize", self.pos_embed_resize, ("stretch", "keep_aspect"))
        if self.rope_ref_grid is not None:
            check_positive("rope_ref_grid", self.rope_ref_grid)
        for name, least in zip(ROPE_AUGMENTS, (0.0, 1.0, 1.0)):
            value = getattr(self, name)
            if value is not None and not (math.isfinite(value) and value >= least):
                raise ConfigError(f"model config {name!r} must be a finite number >= {least:g}"
                                  f"{' (a scale factor)' if least else ''}, or None for off; got {value}")
        check_patch_grid(self.img_size, self.patch_size)
        if self.stem == "conv":
            check_power_of_two_patch(self.patch_size)
        if self.dist_token and not self.class_token:
            raise ConfigError("dist_token=True needs class_token=True (DeiT reads [CLS] and the distillation token)")

    @property
    def num_prefix_tokens(self) -> int:
        """[CLS], the distillation token and the registers, in that order before the patches."""
        return int(self.class_token) + int(self.dist_token) + self.reg_tokens

    @property
    def rope_augments_on(self) -> list[str]:
        """The training-time augmentations of the rotary coordinates that are set (of ``ROPE_AUGMENTS``)."""
        return [name for name in ROPE_AUGMENTS if getattr(self, name) is not None]


@dataclass
class TextConfig(_Section):
    """The text front-end's settings: token ids -> token vectors."""

    vocab_size: int = fixed_by_weights(30522)
    """Number of token ids."""
    max_len: int = fixed_by_weights(512)
    """Longest sequence the position table holds."""
    type_vocab_size: int = fixed_by_weights(2)
    """Token-type (segment) ids; 0 disables them."""
    position_offset: int = fixed_by_weights(0)
    """Row of the position table that the first token reads (RoBERTa: pad_token_id + 1, its positions start after
    the padding id); the usable length is max_len - position_offset."""
    embed_dim: int | None = fixed_by_weights(None)
    """Width of the embedding tables when it differs from the encoder's; a Linear then projects them to dim
    (ELECTRA's embedding_size). None: the encoder's width."""
    learned_positions: bool = fixed_by_weights(True)
    """A learned position table added to the word vectors (BERT); False when rotary positions in the encoder
    (rope_theta) are the only position signal (ModernBERT). max_len still bounds the input length."""
    norm_bias: bool = fixed_by_weights(True)
    """Bias in the embedding LayerNorm (False in ModernBERT)."""
    pad_token_id: int = 0
    """Id of the padding token."""
    ln_eps: float = 1e-6
    """Norm epsilon."""
    dropout: float = 0.0
    """Dropout on embeddings, attention output and MLP."""

    def check(self) -> None:
        for name in ("vocab_size", "max_len"):
            check_positive(name, getattr(self, name))
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ConfigError(f"pad_token_id must be a token id in [0, vocab_size={self.vocab_size}); got {self.pad_token_id}")
        if not 0 <= self.position_offset < self.max_len:
            raise ConfigError(f"position_offset must lie in [0, max_len={self.max_len}); got {self.position_offset}")
        if self.embed_dim is not None:
            check_positive("embed_dim", self.embed_dim)


@dataclass
class HeadConfig(_Section):
    """What reads the encoder's output."""

    head: str = "classifier"
    """What reads the encoder's output: 'classifier' (pooling + Linear -> (B, num_classes)), 'mlm' (text only:
    BERT's masked-token head, tied to the word embeddings -> (B, T, vocab_size)) or 'pixels' (images only:
    MAE's decoder: one Block over the visible tokens and mask tokens -> (B, N, P * P * C) pixels per patch)."""
    pool: str = fixed_by_weights("cls")
    """How the sequence becomes one vector: 'cls' (token 0), 'mean' or 'max' (over the non-prefix tokens; masked for
    text) or 'map' (attention pooling: a learned query attends over the tokens, then an MLP; SigLIP)."""
    fc_norm: bool = fixed_by_weights(False)
    """Normalise the pooled vector (timm's fc_norm, for mean pooling; needs final_norm=False)."""
    head_bias: bool = fixed_by_weights(True)
    """Bias in the head's dense layer: the masked-token head's, or the pooler's (False in ModernBERT)."""
    head_pooler: bool = False
    """BERT's pooler: a dense layer and ``pooler_act`` between pooling and the classifier."""
    pooler_act: str = fixed_by_weights("tanh")
    """The pooler's activation: 'tanh' (BERT, RoBERTa), 'gelu' (ELECTRA), 'relu' (DistilBERT), or any MLP activation."""
    pooler_norm: bool = fixed_by_weights(False)
    """A norm (the encoder's kind) after the pooler's activation: ModernBERT's classification head."""
    head_dropout: float = 0.0
    """Dropout before the classifier."""
    num_classes: int = 1000
    """Classifier outputs; 0 gives a model that returns pooled features."""

    def check(self) -> None:
        check_choice("head", self.head, ("classifier", "mlm", "pixels"))
        check_choice("pool", self.pool, ("cls", "mean", "max", "map"))
        check_choice("pooler_act", self.pooler_act, ACTIVATIONS)
        if self.num_classes < 0:
            raise ConfigError(f"num_classes must be >= 0; got {self.num_classes}")
