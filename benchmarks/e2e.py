"""End-to-end training throughput: a real train.py run against the bare training step of the same model.

    python benchmarks/e2e.py --config configs/cifar10_cpu_10min.yaml --data.dataset folder --data.root /path/to/cifar10
    python benchmarks/e2e.py --steps 100 --warmup 20 -- --config configs/cifar10_vit.yaml --trainer.precision bf16-mixed

1. train.py (``vit_bert.cli``, in this process, with every argument after the harness's own) runs
   ``warmup + steps`` optimizer steps. A callback times the last ``steps`` of them from one
   ``on_train_batch_end`` to another, so the figure holds everything a training step costs in a
   real run: loading the batch, moving it, the batched augmentation, the step, logging.
2. Model-only: the same model (the run's trained weights), batch size and precision; forward +
   cross-entropy + backward + the run's AdamW on one batch that is already on the device, augmented and
   normalised, timed over the same number of steps.
Prints both in samples/s and their ratio (the goal: end-to-end >= 90 % of model-only),
and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from vit_bert.cli import run as train_py  # noqa: E402


class StepClock(Callback):
    """Times optimizer steps ``warmup`` .. ``warmup + steps`` of the run; keeps the last training batch."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps = warmup, steps
        self.start: float | None = None
        self.seconds: float | None = None
        self.batch: dict | None = None

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = trainer.global_step
        if done == self.warmup:
            self.start = time.perf_counter()
        elif done == self.warmup + self.steps and self.start is not None:
            self.seconds = time.perf_counter() - self.start
            self.batch = batch  # as the model saw it: on the device, augmented, normalised


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def model_only(task, batch: dict, steps: int, warmup: int) -> float:
    """Seconds for ``steps`` bare training steps of ``task.model`` on one prepared batch, at the run's precision."""
    model, device = task.model, task.device
    model.train()
    optimizer = task.configure_optimizers()["optimizer"]  # the run's own: AdamW, its groups, fused on CUDA
    precision = task.trainer.precision
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16 if precision.startswith("16") else None
    inputs = {key: value for key, value in batch.items() if key != "labels"}

    def step():
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            logits = model(**inputs)
        F.cross_entropy(logits.float(), batch["labels"]).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for _ in range(warmup):
        step()
    sync(device)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(device)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=100, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=20, help="untimed steps first")
    parser.add_argument("--json", default="benchmarks/results/e2e.json")
    args, train_args = parser.parse_known_args(argv)
    train_args = [a for a in train_args if a != "--"]

    clock = StepClock(args.warmup, args.steps)
    run = train_py([*train_args, "--trainer.max_steps", str(args.warmup + args.steps), "--run_name", "e2e_benchmark"], [clock])
    if clock.seconds is None:
        raise SystemExit(f"the run ended before {args.warmup + args.steps} steps; lower --steps/--warmup or raise max_epochs")
    batch_size = len(clock.batch["labels"])
    e2e = args.steps * batch_size / clock.seconds
    bare = args.steps * batch_size / model_only(run.model, clock.batch, args.steps, warmup=5)
    result = {
        "device": str(run.model.device),
        "cpu": platform.processor() or platform.machine(),
        "torch": torch.__version__,
        "precision": run.trainer.precision,
        "batch": batch_size,
        "steps": args.steps,
        "train_py_samples_per_s": e2e,
        "model_only_samples_per_s": bare,
        "ratio": e2e / bare,
        "args": train_args,
    }
    print(f"train.py end to end: {e2e:.1f} samples/s | model-only step: {bare:.1f} samples/s | ratio {e2e / bare:.3f}")
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
