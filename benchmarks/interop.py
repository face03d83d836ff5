"""Every family both ways: read into vit_bert from timm or transformers, written back out as timm and transformers
folders, with the max |difference| at every token each way.

    python benchmarks/interop.py [--json benchmarks/results/interop.json]

Each family is a small model of its library with random weights moved off their initial values (2 layers, 64 wide,
32 px images of 8 px patches or 12-token sentences with padding). "in": vit_bert's encoder output against the
source's (CLIP: after its post_layernorm); "out": the written folder loaded by its library (``timm.create_model
("local-dir:" + dir)``, ``AutoModel.from_pretrained(dir)``) against vit_bert's. A format a family has no form in
prints the one-line reason.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
from pathlib import Path

import timm
import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vit_bert  # noqa: E402
from text_families import jitter  # noqa: E402  (random weights moved off their initial values, as there)

transformers.logging.set_verbosity_error()
logging.getLogger("vit_bert").setLevel(logging.ERROR)
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)
IMAGE = dict(image_size=32, patch_size=8)
TIMM = {  # family -> (timm name, its small arguments)
    "ViT (timm)": ("vit_small_patch16_224", {}), "DeiT distilled (timm)": ("deit_tiny_distilled_patch16_224", {}),
    "DeiT III (timm)": ("deit3_small_patch16_224", {}), "DINOv2 (timm)": ("vit_small_patch14_dinov2", {}),
    "DINOv2 + registers (timm)": ("vit_small_patch14_reg4_dinov2", {}), "CLIP (timm)": ("vit_base_patch16_clip_224", {}),
    "SigLIP (timm)": ("vit_base_patch16_siglip_224", {}), "EVA-02 (timm)": ("eva02_tiny_patch14_224", {"ref_feat_shape": (4, 4)}),
    "DINOv3 (timm)": ("vit_small_patch16_dinov3", {}),
}
HF = {  # family -> (model class, config class, settings)
    "BERT": ("BertModel", "BertConfig", {}), "RoBERTa": ("RobertaModel", "RobertaConfig", dict(pad_token_id=1, max_position_embeddings=40, type_vocab_size=1)),
    "ELECTRA": ("ElectraModel", "ElectraConfig", dict(embedding_size=32)), "DistilBERT": ("DistilBertModel", "DistilBertConfig", {}),
    "ModernBERT": ("ModernBertModel", "ModernBertConfig", dict(local_attention=8, global_attn_every_n_layers=2, pad_token_id=0)),
    "ViT": ("ViTModel", "ViTConfig", IMAGE), "DeiT": ("DeiTModel", "DeiTConfig", IMAGE), "DINOv2": ("Dinov2Model", "Dinov2Config", IMAGE),
    "DINOv2 + registers": ("Dinov2WithRegistersModel", "Dinov2WithRegistersConfig", {**IMAGE, "num_register_tokens": 2}),
    "CLIP vision": ("CLIPVisionModel", "CLIPVisionConfig", IMAGE), "SigLIP vision": ("SiglipVisionModel", "SiglipVisionConfig", IMAGE),
    "DINOv3": ("DINOv3ViTModel", "DINOv3ViTConfig", {**IMAGE, "num_register_tokens": 2}),
}
DISTILBERT = dict(dim=64, n_layers=2, n_heads=4, hidden_dim=128)


def text_inputs():
    ids = torch.randint(5, 90, (2, 12), generator=torch.Generator().manual_seed(0))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    return ids, mask


def hf_tokens(hf, name: str, inputs) -> torch.Tensor:
    if isinstance(inputs, tuple):
        return hf(input_ids=inputs[0], attention_mask=inputs[1]).last_hidden_state
    out = hf(pixel_values=inputs, **({"interpolate_pos_encoding": True} if name in ("CLIP vision", "SigLIP vision") else {}))
    tower = getattr(hf, "vision_model", hf)
    return tower.post_layernorm(out.last_hidden_state) if name == "CLIP vision" else out.last_hidden_state


def ours_tokens(model, inputs) -> torch.Tensor:
    return model.forward_features(inputs[0], attention_mask=inputs[1]) if isinstance(inputs, tuple) else model.forward_features(inputs)


def difference(a: torch.Tensor, b: torch.Tensor, inputs) -> float:
    if isinstance(inputs, tuple):
        real = inputs[1].bool()
        return float((a[real] - b[real]).abs().max())
    return float((a - b).abs().max())


def write_both(model, inputs, root: Path) -> dict:
    result = {}
    with torch.no_grad():
        ours = ours_tokens(model, inputs)
    for fmt in ("timm", "transformers"):
        folder = root / fmt
        try:
            model.save_pretrained(folder, format=fmt)
        except vit_bert.errors.VitBertError as err:
            result[fmt] = str(err).split(": ", 1)[-1][:120]
            continue
        with torch.no_grad():
            if fmt == "timm":
                theirs = timm.create_model(f"local-dir:{folder}", pretrained=True).eval().forward_features(inputs)
            else:
                name = json.loads((folder / "config.json").read_text())["architectures"][0]
                hf = getattr(transformers, name).from_pretrained(folder).eval()
                base = getattr(hf, hf.base_model_prefix, hf) if not name.endswith("Model") else hf
                family = {"clip_vision_model": "CLIP vision"}.get(hf.config.model_type, "")
                theirs = hf_tokens(base, family, inputs)
        result[fmt] = difference(theirs, ours, inputs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json")
    args = parser.parse_args()
    rows = []
    images = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    for family, (name, extra) in TIMM.items():
        source = jitter(timm.create_model(name, pretrained=False, img_size=32, patch_size=8, embed_dim=64, depth=2, num_heads=4, **extra))
        model = vit_bert.load_pretrained(source).eval()
        with torch.no_grad():
            read = difference(ours_tokens(model, images), source.forward_features(images), images)
        with tempfile.TemporaryDirectory() as root:
            rows.append({"family": family, "reads_from": "object, name, file, Hub folder", "in": read, **write_both(model, images, Path(root))})
        print(rows[-1], flush=True)
    for family, (cls, config_cls, settings) in HF.items():
        fields = DISTILBERT if family == "DistilBERT" else {**SMALL, **settings}
        if family in ("BERT", "RoBERTa", "ELECTRA", "DistilBERT", "ModernBERT"):
            fields["vocab_size"] = 100
        hf = jitter(getattr(transformers, cls)(getattr(transformers, config_cls)(**fields)))
        inputs = text_inputs() if "image_size" not in settings else images
        with tempfile.TemporaryDirectory() as root:
            hf.save_pretrained(Path(root) / "source")
            model = vit_bert.load_pretrained(Path(root) / "source").eval()
            with torch.no_grad():
                read = difference(ours_tokens(model, inputs), hf_tokens(hf, family, inputs), inputs)
            rows.append({"family": family, "reads_from": "HF folder", "in": read, **write_both(model, inputs, Path(root))})
        print(rows[-1], flush=True)
    print("| family | reads from | max abs diff in | writes to timm: max abs diff | writes to transformers: max abs diff |\n|---|---|---|---|---|")
    for row in rows:
        cells = [f"{row[k]:.1e}" if isinstance(row[k], float) else f"no ({row[k]})" for k in ("in", "timm", "transformers")]
        print(f"| {row['family']} | {row['reads_from']} | {' | '.join(cells)} |")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
