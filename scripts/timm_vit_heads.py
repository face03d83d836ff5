"""Regenerate vit_bert/weights/timm_vit_heads.json: the head count of every timm VisionTransformer architecture.

A state dict does not store the head count. ``load_pretrained`` matches a bare timm ViT state dict's
shapes (width, MLP width, [CLS] or not) against this table, built by instantiating every registered
``timm.models.vision_transformer`` architecture on the meta device (no weights, ~30 s):

    python scripts/timm_vit_heads.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import timm
import torch

OUT = Path(__file__).resolve().parent.parent / "vit_bert" / "weights" / "timm_vit_heads.json"


def main() -> None:
    table: dict[str, dict[int, list[str]]] = defaultdict(lambda: defaultdict(list))
    with torch.device("meta"):
        for name in timm.list_models(module="vision_transformer"):
            model = timm.create_model(name)
            attn = getattr(model.blocks[0], "attn", None) if len(model.blocks) else None
            fc1 = getattr(getattr(model.blocks[0], "mlp", None), "fc1", None) if len(model.blocks) else None
            if attn is None or not hasattr(attn, "qkv") or fc1 is None:
                continue  # parallel-block variants have other keys: load_pretrained does not read them
            key = f"{model.embed_dim}/{fc1.out_features}/{'cls' if model.cls_token is not None else 'nocls'}"
            table[key][attn.num_heads].append(name)
    data = {"timm_version": timm.__version__, "shapes": {k: {str(h): v for h, v in sorted(by.items())} for k, by in sorted(table.items())}}
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(table)} shapes")


if __name__ == "__main__":
    main()
