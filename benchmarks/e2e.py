"""End-to-end training throughput of every task: a real ``vit-bert fit`` run against a bare loop over the same model and batch.

    python benchmarks/e2e.py --cifar DIR --sst2 DIR                  # every task below, one after the other
    python benchmarks/e2e.py --tasks mae --steps 60 --warmup 10      # one task
    python benchmarks/e2e.py --tasks classification -- --trainer.precision bf16-mixed   # extra fit arguments

Tasks (a shipped config each): classification (cifar10_cpu_10min on a CIFAR-10 ImageFolder), mlm (mlm_pretrain on
SST-2's sentences), mae (mim_pretrain on CIFAR-10; mae_digits: on the bundled digits, as shipped), cotrain
(cotrain_cifar10_sst2).

1. ``vit-bert fit`` (``vit_bert.cli.run``, in this process) runs ``warmup + steps`` optimizer steps. A callback times
   the last ``steps`` of them from one ``on_train_batch_end`` to another, so the figure holds everything a step costs
   in a real run: loading the batch, moving it, the batched augmentation, the step, metrics, logging.
2. Bare loop: the same model (the run's trained weights), AdamW and batches (the timed steps' own, already on the
   device and augmented, replayed in order), the task's loss written plainly (``bare_loss``: forward, the masking for
   the pretraining tasks, the loss), backward and step.
Prints both in steps/s and their ratio (the goal: fit >= 0.93 of the bare loop) and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from lightning.pytorch.callbacks import Callback

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this checkout's vit_bert, before an installed one
from vit_bert.cli import run as train_py  # noqa: E402
from vit_bert.training.masked import MaskedTokenTask, normalised_patches  # noqa: E402
from vit_bert.training.masking import mask_patches, mask_tokens  # noqa: E402
from vit_bert.training.multitask import MultiTaskClassification  # noqa: E402

from machine import cpu_model  # noqa: E402


class StepClock(Callback):
    """Times optimizer steps ``warmup`` .. ``warmup + steps`` of the run and keeps their batches, as the model saw them
    (on the device, augmented, normalised), for the bare loop to replay."""

    def __init__(self, warmup: int, steps: int):
        self.warmup, self.steps = warmup, steps
        self.start: float | None = None
        self.seconds: float | None = None
        self.batches: list = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        done = trainer.global_step
        if done == self.warmup:
            self.start = time.perf_counter()
        elif self.warmup < done <= self.warmup + self.steps and self.start is not None:
            self.batches.append(batch)
            if done == self.warmup + self.steps:
                self.seconds = time.perf_counter() - self.start


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def bare_loss(task, batch: dict) -> torch.Tensor:
    """The task's training loss on ``batch``, written as a user would without Lightning: the same pieces, no logging."""
    model = task.model
    if isinstance(task, MultiTaskClassification):
        return sum(task.loss_weights[name] * F.cross_entropy(model(**inputs_of(part), task=name).float(), part["labels"])
                   for name, part in batch.items())
    if isinstance(task, MaskedTokenTask) and task.config.modality == "text":
        ids, mask = batch["input_ids"], batch["attention_mask"]
        corrupted, chosen = mask_tokens(ids, mask, task.special_ids, task.mask_id, task.config.vocab_size, task.mask_prob, None)
        logits = model.forward_head(model.forward_features(input_ids=corrupted, attention_mask=mask)[chosen])
        return F.cross_entropy(logits.float(), ids[chosen])
    if isinstance(task, MaskedTokenTask):
        images, patch = batch["images"], task.config.patch_size
        masked = mask_patches(len(images), (images.shape[2] // patch) * (images.shape[3] // patch), task.masked_per_image, images.device)
        predicted = model.forward_masked(images, masked)
        return F.l1_loss(predicted[masked].float(), normalised_patches(images, patch)[masked])
    return F.cross_entropy(model(**inputs_of(batch)).float(), batch["labels"])


def inputs_of(batch: dict) -> dict:
    return {key: value for key, value in batch.items() if key != "labels"}


def bare_loop(task, batches: list, warmup: int) -> float:
    """Seconds for bare training steps of ``task.model`` over ``batches`` (the run's timed ones), at the run's precision."""
    device = task.device
    task.model.train()
    optimizer = task.configure_optimizers()["optimizer"]  # the run's own: AdamW, its groups, fused on CUDA
    precision = task.trainer.precision
    dtype = torch.bfloat16 if precision.startswith("bf16") else torch.float16 if precision.startswith("16") else None

    def step(batch: dict):
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = bare_loss(task, batch)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)

    for batch in batches[:warmup]:
        step(batch)
    sync(device)
    start = time.perf_counter()
    for batch in batches:
        step(batch)
    sync(device)
    return time.perf_counter() - start


ROOT = Path(__file__).resolve().parent.parent  # this checkout: its configs (a copy of this script in another checkout times that one)
TASKS = {  # name -> the fit arguments (data roots filled in from --cifar / --sst2)
    "classification": ["--config", "{configs}/cifar10_cpu_10min.yaml", "--data.dataset", "folder", "--data.root", "{cifar}"],
    "mlm": ["--config", "{configs}/mlm_pretrain.yaml", "--data.root", "{sst2}", "--data.text_column", "sentence"],
    "mae": ["--config", "{configs}/mim_pretrain.yaml", "--data.dataset", "folder", "--data.root", "{cifar}"],
    "mae_digits": ["--config", "{configs}/mim_pretrain.yaml"],  # 20-step epochs: each epoch's validation and checkpoints weigh
    "cotrain": ["--config", "{configs}/cotrain_cifar10_sst2.yaml", "--data.tasks.cifar10.init_args.root", "{cifar}",
                "--data.tasks.sst2.init_args.root", "{sst2}"],
}


def measure(name: str, fit_args: list[str], steps: int, warmup: int) -> dict:
    clock = StepClock(warmup, steps)
    run = train_py([*fit_args, "--trainer.max_steps", str(warmup + steps), "--trainer.max_time", "null",
                    "--trainer.enable_progress_bar", "false", "--trainer.limit_val_batches", "2", "--trainer.limit_test_batches", "2",
                    "--run_name", f"e2e_{name}", "--runs_dir", "/tmp/e2e_runs"], [clock])
    if clock.seconds is None:
        raise SystemExit(f"{name}: the run ended before {warmup + steps} steps; lower --steps/--warmup")
    bare = bare_loop(run.model, clock.batches, warmup=5)
    return {"task": name, "fit_ms_per_step": 1000 * clock.seconds / steps, "bare_ms_per_step": 1000 * bare / steps,
            "ratio": bare / clock.seconds, "precision": run.trainer.precision, "args": fit_args}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tasks", nargs="+", default=list(TASKS), choices=list(TASKS))
    parser.add_argument("--cifar", default="data/cifar10", help="a CIFAR-10 ImageFolder (train/, test/)")
    parser.add_argument("--sst2", default="data/sst2", help="SST-2's train/dev/test.tsv")
    parser.add_argument("--steps", type=int, default=60, help="timed optimizer steps")
    parser.add_argument("--warmup", type=int, default=15, help="untimed steps first")
    parser.add_argument("--json", default="benchmarks/results/e2e.json")
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    rows = []
    for name in args.tasks:
        fit_args = [a.format(cifar=args.cifar, sst2=args.sst2, configs=ROOT / "configs") for a in TASKS[name]] + extra
        rows.append(measure(name, fit_args, args.steps, args.warmup))
    print(f"\n{'task':<15} {'fit ms/step':>12} {'bare ms/step':>13} {'fit / bare speed':>17}")
    for row in rows:
        print(f"{row['task']:<15} {row['fit_ms_per_step']:>12.1f} {row['bare_ms_per_step']:>13.1f} {row['ratio']:>17.3f}")
    result = {"cpu": cpu_model(), "torch": torch.__version__, "steps": args.steps, "warmup": args.warmup, "rows": rows}
    Path(args.json).parent.mkdir(parents=True, exist_ok=True)
    Path(args.json).write_text(json.dumps(result, indent=2))
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
