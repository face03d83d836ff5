"""Named model sizes, as plain data: preset name -> ModelConfig fields.

ViT sizes from Dosovitskiy et al. / DeiT (Ti 192/12/3, S 384/12/6, B 768/12/12,
L 1024/24/16); BERT sizes from Turc et al. 2019 (layers x hidden, heads = hidden / 64).
``vit-cifar/4`` is a small-dataset ViT for 32 x 32 inputs with 4 x 4 patches (64 tokens + [CLS]).
"""

from __future__ import annotations

_VIT = dict(modality="image", img_size=224, patch_size=16, pre_norm=True, ln_eps=1e-6, pool="cls", num_classes=1000)
_BERT = dict(
    modality="text", vocab_size=30522, max_len=512, type_vocab_size=2, pre_norm=False, ln_eps=1e-12,
    dropout=0.1, attn_dropout=0.1, pool="cls", head_pooler=True, num_classes=2,
)

PRESETS: dict[str, dict] = {
    "vit-ti/16": {**_VIT, "dim": 192, "depth": 12, "heads": 3},
    "vit-s/16": {**_VIT, "dim": 384, "depth": 12, "heads": 6},
    "vit-b/16": {**_VIT, "dim": 768, "depth": 12, "heads": 12},
    "vit-l/16": {**_VIT, "dim": 1024, "depth": 24, "heads": 16},
    "vit-cifar/4": {**_VIT, "img_size": 32, "patch_size": 4, "dim": 192, "depth": 6, "heads": 3, "mlp_ratio": 2.0, "num_classes": 10},
    "bert-tiny": {**_BERT, "dim": 128, "depth": 2, "heads": 2},
    "bert-mini": {**_BERT, "dim": 256, "depth": 4, "heads": 4},
    "bert-small": {**_BERT, "dim": 512, "depth": 4, "heads": 8},
    "bert-medium": {**_BERT, "dim": 512, "depth": 8, "heads": 8},
    "bert-base": {**_BERT, "dim": 768, "depth": 12, "heads": 12},
}
