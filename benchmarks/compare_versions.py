"""This checkout's vit_bert against another checkout's, in one process, interleaved: did a change make any preset slower?

    git worktree add /tmp/before main        # the version to compare with
    python benchmarks/compare_versions.py /tmp/before [--rows vit-cifar/4 bert-mini ...] [--precisions fp32 bf16]

Two runs of ``speed.py`` one after the other compare badly on a shared machine (the same reference model's time
moved by 10-40 % between runs here). This script imports the other checkout's ``vit_bert`` package under another
name, builds every row's model in both versions with the same weights, and times them step by step in turns
(train: forward + cross-entropy + backward + AdamW; infer: forward under inference_mode), so drift hits both alike.
Reported: the median ms of each and after / before (below 1: this checkout is faster).
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
import vit_bert  # noqa: E402
from speed import DTYPES, make_step, time_pair  # noqa: E402

ROWS = {  # preset, overrides, batch, sequence length (text)
    "vit-cifar/4": ({"num_classes": 10}, 128, None),
    "vit-ti/16": ({}, 32, None),
    "vit-s/16": ({}, 32, None),
    "bert-mini": ({"dropout": 0.1}, 32, 128),
    "bert-small": ({"dropout": 0.1}, 32, 128),
}


def import_other(checkout: Path):
    """The other checkout's vit_bert package, imported as ``vit_bert_other`` (its imports are relative)."""
    spec = importlib.util.spec_from_file_location("vit_bert_other", checkout / "vit_bert" / "__init__.py",
                                                  submodule_search_locations=[str(checkout / "vit_bert")])
    module = importlib.util.module_from_spec(spec)
    sys.modules["vit_bert_other"] = module
    spec.loader.exec_module(module)
    return module


def inputs_for(model, batch: int, seq: int | None) -> tuple[dict, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    config = model.config
    if config.modality == "image":
        return {"images": torch.randn(batch, 3, config.img_size, config.img_size, generator=generator)}, torch.randint(0, config.num_classes, (batch,))
    lengths = torch.randint(int(0.4 * seq), seq + 1, (batch,), generator=generator)
    mask = (torch.arange(seq)[None] < lengths[:, None]).long()
    ids = torch.randint(1000, 30000, (batch, seq), generator=generator) * mask
    return {"input_ids": ids, "attention_mask": mask}, torch.randint(0, config.num_classes, (batch,))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("other", type=Path, help="the other checkout (a folder holding vit_bert/)")
    parser.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    parser.add_argument("--precisions", nargs="+", default=["fp32"], choices=list(DTYPES))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args(argv)
    other = import_other(args.other.resolve())
    device = torch.device("cpu")
    print(f"{'row':<12} {'mode':<6} {'prec':<5} {'before ms':>10} {'after ms':>10} {'after/before':>13}")
    for name in args.rows:
        overrides, batch, seq = ROWS[name]
        torch.manual_seed(0)
        after = vit_bert.build_model(name, **overrides)
        before = other.build_model(name, **overrides)
        before.load_state_dict(after.state_dict())  # the same weights in both
        inputs, labels = inputs_for(after, batch, seq)
        for precision in args.precisions:
            for mode in ("train", "infer"):
                steps = {"before": make_step(before, inputs, labels, mode, DTYPES[precision], device),
                         "after": make_step(after, inputs, labels, mode, DTYPES[precision], device)}
                times = time_pair(steps, device, args.repeats, warmup=1)
                ms = {key: statistics.median(values) * 1e3 for key, values in times.items()}
                print(f"{name:<12} {mode:<6} {precision:<5} {ms['before']:>10.1f} {ms['after']:>10.1f} {ms['after'] / ms['before']:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
