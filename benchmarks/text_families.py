"""How exactly vit_bert computes each BERT-architecture text family: max |difference| against transformers.

    python benchmarks/text_families.py [--json benchmarks/results/text_families.json]

For each family: transformers' base model at its published base size (ELECTRA: small), random weights moved off
their initial values, written with ``save_pretrained`` and read with ``vit_bert.load_pretrained(folder)``; a right-padded
batch of 4 x 256 token ids with about 30 % padding (longer than ModernBERT's local window of 64 tokens each side). Reports the max absolute difference of ``last_hidden_state`` at the
real tokens, of the masked-LM logits (ELECTRA: its generator, ``ElectraForMaskedLM``), and of the logits of each
family's ``...ForSequenceClassification`` (3 classes).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch
import transformers

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vit_bert  # noqa: E402

FAMILIES = [  # family, config class, its fields, model class prefix (XModel, XForMaskedLM, XForSequenceClassification)
    ("BERT", "BertConfig", {}, "Bert"),
    ("RoBERTa", "RobertaConfig", dict(vocab_size=50265, max_position_embeddings=514, pad_token_id=1, type_vocab_size=1, layer_norm_eps=1e-5),
     "Roberta"),
    ("ELECTRA", "ElectraConfig", dict(embedding_size=128, hidden_size=256, num_attention_heads=4, intermediate_size=1024), "Electra"),
    ("DistilBERT", "DistilBertConfig", {}, "DistilBert"),
    ("ModernBERT", "ModernBertConfig", {}, "ModernBert"),
]


def jitter(model: torch.nn.Module) -> torch.nn.Module:
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(0.02 * torch.randn_like(param))
    return model.eval()


def padded_batch(vocab: int, pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    lengths = torch.tensor([256, 200, 160, 104])  # 720 of 1024 positions real: ~30 % padding
    mask = (torch.arange(256)[None] < lengths[:, None]).long()
    ids = torch.randint(3, min(vocab, 50000), (4, 256), generator=generator).masked_fill(mask == 0, pad_id)
    return ids, mask


def difference(reference: torch.nn.Module, head: str, pad_id: int, vocab: int, **known) -> float:
    with tempfile.TemporaryDirectory() as folder:
        reference.save_pretrained(folder)
        model = vit_bert.load_pretrained(folder, head=head, **known).eval()
    ids, mask = padded_batch(vocab, pad_id)
    with torch.no_grad():
        output = reference(input_ids=ids, attention_mask=mask)
        if "logits" not in output:  # a base model: its last_hidden_state
            ours, theirs = model.forward_features(input_ids=ids, attention_mask=mask), output.last_hidden_state
        else:
            ours, theirs = model(input_ids=ids, attention_mask=mask), output.logits
    if ours.ndim == 2:  # a sequence classifier: one row of logits a sequence
        return float((ours - theirs).abs().max())
    real = mask.bool()
    return float((ours[real] - theirs[real]).abs().max())


def built(prefix: str, kind: str, config) -> torch.nn.Module:
    """transformers' ``prefix + kind`` (Bert + ForMaskedLM) with random weights moved off their initial values."""
    return jitter(getattr(transformers, prefix + kind)(config))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", default="benchmarks/results/text_families.json")
    args = parser.parse_args(argv)
    results = []
    for family, config_class, fields, prefix in FAMILIES:
        config = getattr(transformers, config_class)(**fields, num_labels=3)
        vocab, pad_id = config.vocab_size, config.pad_token_id or 0
        row = {"family": family, "model": f"{prefix}Model",
               "features": difference(built(prefix, "Model", config), "classifier", pad_id, vocab, num_classes=0)}
        masked_lm = built(prefix, "ForMaskedLM", config)
        masked_lm.tie_weights()
        row["mlm_logits"] = difference(masked_lm, "mlm", pad_id, vocab)
        row["classifier_logits"] = difference(built(prefix, "ForSequenceClassification", config), "classifier", pad_id, vocab)
        results.append(row)
        print(f"{family:<11} {prefix + 'Model':<16} last_hidden_state {row['features']:.1e}  masked-LM logits {row['mlm_logits']:.1e}"
              f"  classifier logits {row['classifier_logits']:.1e}", flush=True)
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"torch": torch.__version__, "transformers": transformers.__version__, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
