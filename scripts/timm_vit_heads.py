"""Regenerate vit_bert/formats/timm_vit_heads.json: what a state dict does not store, for every registered timm ViT and Eva.

A state dict does not store the head count, the MLP activation, the norm kind and epsilon, the pooling, or an Eva's
rotary settings. ``load_pretrained`` reads a bare timm ViT state dict's signature (width, MLP widths, depth, prefix
tokens and optional parts: ``weights_signature``; an Eva's adds its patch grid: ``rotary_signature``) and looks these
facts up here, built by instantiating every registered architecture of ``timm.models.vision_transformer``,
``timm.models.deit`` and ``timm.models.eva`` on the meta device (no weights, ~1 min):

    python scripts/timm_vit_heads.py
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

import timm
import torch

from vit_bert.errors import WeightsError
from vit_bert.formats.timm_keys import eva_state_dict
from vit_bert.weights.timm_eva import is_timm_eva
from vit_bert.formats.timm_facts import FACTS, rotary_signature, weights_signature
from vit_bert.weights.timm_vit import facts_of_model

OUT = Path(__file__).resolve().parent.parent / "vit_bert" / "formats" / "timm_vit_heads.json"


def main() -> None:
    table: dict[str, dict[tuple, list[str]]] = defaultdict(lambda: defaultdict(list))
    skipped = []
    with torch.device("meta"):
        for name in timm.list_models(module=["vision_transformer", "deit", "eva"]):
            model = timm.create_model(name)
            try:
                facts = facts_of_model(model)
                state_dict = eva_state_dict(model.state_dict())
                signature = rotary_signature(state_dict) if is_timm_eva(model) else weights_signature(state_dict)
            except (WeightsError, KeyError, AttributeError, ValueError):  # parallel blocks, other pools, no pos_embed ...: not loadable
                skipped.append(name)
                continue
            eva = json.dumps(facts["eva"], sort_keys=True) if facts["eva"] else None
            table[signature][(*(facts[k] for k in FACTS), eva)].append(name)
    data = {"timm_version": timm.__version__, "signatures": {
        signature: [{**dict(zip(FACTS, facts)), **({"eva": json.loads(facts[-1])} if facts[-1] else {}), "names": names}
                    for facts, names in sorted(by.items(), key=str)]
        for signature, by in sorted(table.items())}}
    OUT.write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {OUT}: {len(table)} signatures; skipped {len(skipped)} architectures vit_bert does not read")


if __name__ == "__main__":
    main()
