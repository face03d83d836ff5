"""How exactly vit_bert computes each ViT family timm users load: max |difference| against timm's own forward.

    python benchmarks/families.py [--json benchmarks/results/families.json]

For each family: the full-size timm architecture with random weights moved off their initial values (LayerScale,
[CLS] and registers included), loaded through ``vit_bert.load_pretrained`` from the model object and from a bare
safetensors file of its state dict (an Eva's rotary settings come from the registered architecture its tensors
match), run on the same 2 images at the native size and at another one (timm with
``dynamic_img_size=True``, so both resample the position table per forward). Reports the max absolute difference
of the encoder features and of the head's output.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import timm
import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vit_bert  # noqa: E402

FAMILIES = [  # family, timm name, native size, another size, what a bare file needs said
    ("DINOv2", "vit_small_patch14_dinov2", 518, 224, {}),
    ("DINOv2 + registers", "vit_small_patch14_reg4_dinov2", 518, 224, {}),
    ("DeiT III", "deit3_small_patch16_224", 224, 160, {}),
    ("DeiT distilled", "deit_tiny_distilled_patch16_224", 224, 160, {}),
    ("CLIP", "vit_base_patch16_clip_224", 224, 160, {"act": "gelu"}),  # timm also registers quick-GELU CLIP with the same tensors
    ("SigLIP", "vit_base_patch16_siglip_224", 224, 160, {}),
    ("EVA-02", "eva02_tiny_patch14_224", 224, 168, {}),
    ("DINOv3", "vit_small_patch16_dinov3", 256, 224, {}),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="benchmarks/results/families.json")
    args = parser.parse_args(argv)
    results = []
    for family, name, native, other, known in FAMILIES:
        torch.manual_seed(0)
        reference = timm.create_model(name, pretrained=False, dynamic_img_size=True).eval()
        with torch.no_grad():
            for parameter in reference.parameters():
                parameter.add_(torch.randn_like(parameter) * 0.02)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "weights.safetensors"
            save_file(reference.state_dict(), path)
            loaded = {"object": vit_bert.load_pretrained(reference).eval(), "file": vit_bert.load_pretrained(path, **known).eval()}
        row = {"family": family, "timm": name, "file_needs": known}
        for size in (native, other):
            images = torch.randn(2, 3, size, size)
            with torch.no_grad():
                features, logits = reference.forward_features(images), reference(images)
                for source, model in loaded.items():
                    row[f"{source}@{size}"] = {"features": float((model.forward_features(images) - features).abs().max()),
                                               "output": float((model(images) - logits).abs().max()),
                                               "output_scale": float(logits.abs().max())}
        results.append(row)
        worst = max(v["features"] for k, v in row.items() if "@" in k), max(v["output"] for k, v in row.items() if "@" in k)
        print(f"{family:<20} {name:<34} features {worst[0]:.1e}  output {worst[1]:.1e}  (sizes {native}, {other}; object and file)", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"torch": torch.__version__, "timm": timm.__version__, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
