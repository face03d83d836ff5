"""Named model sizes, as plain data: preset name -> ModelConfig fields.

ViT sizes from Dosovitskiy et al. / DeiT (Ti 192/12/3, S 384/12/6, B 768/12/12,
L 1024/24/16); BERT sizes from Turc et al. 2019 (layers x hidden, heads = hidden / 64).
``vit-cifar/4`` is a small-dataset ViT for 32 x 32 inputs with 4 x 4 patches (64 tokens + [CLS]).

The ViT families timm users load (each the same architecture as the timm model named beside it, so
``load_pretrained`` of that model's weights gives a model of this preset):
DINOv2 (Oquab et al. 2023; LayerScale, patch 14 at 518 px), DINOv2 with 4 registers (Darcet et al. 2023;
positions on patches only), DeiT III (Touvron et al. 2022; LayerScale, positions on patches only),
distilled DeiT (Touvron et al. 2021; a distillation token with its own classifier), CLIP's image tower
(Radford et al. 2021; a norm before the encoder, no patch bias, LayerNorm eps 1e-5) and SigLIP's
(Zhai et al. 2023; no [CLS], attention pooling).
The BERT-architecture text families: RoBERTa (Liu et al. 2019), DistilBERT (Sanh et al. 2019), ELECTRA (Clark et al. 2020).

Rotary families: ModernBERT (Warner et al. 2024; pre-norm, no biases, GeGLU, rotary positions, local attention in two
layers of three), EVA-02 (Fang et al. 2023; SwiGLU, 2-D rotary positions on patch indices, mean pooling) and DINOv3
(Simeoni et al. 2025; 2-D rotary positions on patch centres only, 4 registers, LayerScale). ``modern-mini`` is the
from-scratch text encoder at bert-mini's size with ModernBERT's choices (pre-norm, rotary positions, GeGLU, no biases,
no token types, no position table), for training on small data where post-norm bert-mini is fragile.
"""

from __future__ import annotations

_VIT = dict(modality="image", img_size=224, patch_size=16, pre_norm=True, ln_eps=1e-6, pool="cls", num_classes=1000)
_BERT = dict(
    modality="text", vocab_size=30522, max_len=512, type_vocab_size=2, pre_norm=False, ln_eps=1e-12,
    dropout=0.1, attn_dropout=0.1, pool="cls", head_pooler=True, num_classes=2,
)

# ModernBERT's layout: pre-norm with an embedding norm (so no norm before block 0's attention), LayerNorms and linears
# without bias, a GeGLU MLP, rotary positions instead of a position table, no token types; with head_pooler, its
# classification head (dense, GELU, norm).
_MODERN = dict(
    modality="text", type_vocab_size=0, learned_positions=False, pre_norm=True, first_norm=False, ln_eps=1e-5, norm_bias=False,
    qkv_bias=False, proj_bias=False, mlp_bias=False, head_bias=False, mlp="glu", act="gelu", rope_layout="half",
    dropout=0.1, attn_dropout=0.1, pool="cls", head_pooler=False, pooler_act="gelu", pooler_norm=True, num_classes=2,
)

PRESETS: dict[str, dict] = {
    "vit-ti/16": {**_VIT, "dim": 192, "depth": 12, "heads": 3},
    "vit-s/16": {**_VIT, "dim": 384, "depth": 12, "heads": 6},
    "vit-b/16": {**_VIT, "dim": 768, "depth": 12, "heads": 12},
    "vit-l/16": {**_VIT, "dim": 1024, "depth": 24, "heads": 16},
    "vit-cifar/4": {**_VIT, "img_size": 32, "patch_size": 4, "dim": 192, "depth": 6, "heads": 3, "mlp_ratio": 2.0, "num_classes": 10},
    # timm: vit_small_patch14_dinov2, vit_base_patch14_dinov2, vit_small_patch14_reg4_dinov2
    "dinov2-s/14": {**_VIT, "img_size": 518, "patch_size": 14, "dim": 384, "depth": 12, "heads": 6, "layer_scale": 1e-5, "num_classes": 0},
    "dinov2-b/14": {**_VIT, "img_size": 518, "patch_size": 14, "dim": 768, "depth": 12, "heads": 12, "layer_scale": 1e-5, "num_classes": 0},
    "dinov2-s/14-reg4": {**_VIT, "img_size": 518, "patch_size": 14, "dim": 384, "depth": 12, "heads": 6, "layer_scale": 1e-5,
                         "reg_tokens": 4, "no_embed_class": True, "num_classes": 0},
    # timm: deit3_small_patch16_224, deit_tiny_distilled_patch16_224
    "deit3-s/16": {**_VIT, "dim": 384, "depth": 12, "heads": 6, "layer_scale": 1e-6, "no_embed_class": True},
    "deit-ti/16-distilled": {**_VIT, "dim": 192, "depth": 12, "heads": 3, "dist_token": True},
    # timm: vit_base_patch16_clip_224 (GELU; the OpenAI weights' quick_gelu is timm's *_clip_quickgelu_*), vit_base_patch16_siglip_224
    "clip-b/16": {**_VIT, "dim": 768, "depth": 12, "heads": 12, "ln_eps": 1e-5, "norm_pre": True, "patch_bias": False},
    "siglip-b/16": {**_VIT, "dim": 768, "depth": 12, "heads": 12, "class_token": False, "pool": "map", "num_classes": 0},
    "bert-tiny": {**_BERT, "dim": 128, "depth": 2, "heads": 2},
    "bert-mini": {**_BERT, "dim": 256, "depth": 4, "heads": 4},
    "bert-small": {**_BERT, "dim": 512, "depth": 4, "heads": 8},
    "bert-medium": {**_BERT, "dim": 512, "depth": 8, "heads": 8},
    "bert-base": {**_BERT, "dim": 768, "depth": 12, "heads": 12},
    # transformers: roberta-base (positions after the padding id 1, one token type, byte-level BPE vocabulary of 50265),
    # distilbert-base-uncased (6 of BERT-base's layers, no token types), google/electra-small-discriminator
    # (embedding tables of 128 projected up to 256).
    "roberta-base": {**_BERT, "dim": 768, "depth": 12, "heads": 12, "vocab_size": 50265, "max_len": 514, "type_vocab_size": 1,
                     "pad_token_id": 1, "position_offset": 2, "ln_eps": 1e-5},
    "distilbert-base": {**_BERT, "dim": 768, "depth": 6, "heads": 12, "type_vocab_size": 0, "head_pooler": False,
                        "pooler_act": "relu"},
    "electra-small": {**_BERT, "dim": 256, "depth": 12, "heads": 4, "embed_dim": 128, "head_pooler": False,
                      "pooler_act": "gelu"},
    # transformers: ModernBertConfig()'s defaults, the answerdotai/ModernBERT-base architecture
    "modernbert-base": {**_MODERN, "dim": 768, "depth": 22, "heads": 12, "mlp_hidden": 1152, "vocab_size": 50368, "max_len": 8192,
                        "pad_token_id": 50283, "local_window": 128, "global_every": 3, "rope_theta": 160000.0, "rope_local_theta": 10000.0,
                        "dropout": 0.0, "attn_dropout": 0.0},
    "modern-mini": {**_MODERN, "dim": 256, "depth": 4, "heads": 4, "mlp_ratio": 8 / 3, "vocab_size": 30522, "max_len": 512,
                    "rope_theta": 10000.0, "pool": "mean"},
    # timm: eva02_tiny_patch14_224 (its MIM-pretrained weights have no classifier), vit_small_patch16_dinov3 (256 px by default)
    "eva02-ti/14": {**_VIT, "patch_size": 14, "dim": 192, "depth": 12, "heads": 3, "mlp": "glu", "mlp_ratio": 512 / 192, "act": "silu", "k_bias": False,
                    "pool": "mean", "fc_norm": True, "final_norm": False, "rope_theta": 10000.0, "rope_layout": "interleaved",
                    "rope_grid": "index", "rope_ref_grid": 16, "num_classes": 0},
    "dinov3-s/16": {**_VIT, "img_size": 256, "dim": 384, "depth": 12, "heads": 6, "qkv_bias": False, "layer_scale": 1e-5, "reg_tokens": 4, "ln_eps": 1e-5,
                    "pos_embed": "none", "rope_theta": 100.0, "rope_layout": "half", "rope_grid": "centered", "pool": "mean", "num_classes": 0},
}
