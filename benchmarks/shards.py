"""Prepared shards against reading the folder: a large text corpus for masked-token pretraining, photos, and 2 processes.

    python benchmarks/shards.py corpus SST2_DIR corpus --mb 237        # SST-2's words resampled into ~2.3M lines of train.txt
    python benchmarks/shards.py prepare corpus corpus.prepared         # vit-bert prepare: wall time and peak RSS
    python benchmarks/shards.py mlm corpus corpus.prepared --steps 40  # MLM from the file (in memory) vs from shards
    python benchmarks/shards.py photos photos/10k photos/10k.prepared  # the training loader (224 px, timm's augmentation, 2
                                                                       # workers): images/s and peak RSS, folder vs shards
    python benchmarks/shards.py ddp photos/10k.prepared                # fit from shards (cifar10_vit, 4 blocks, 32 px):
                                                                       # samples/s, 1 process vs 2 (DDP, gloo)

Every measurement runs ``vit-bert`` in a fresh process, one after the other, and reads that process's peak RSS
(``getrusage(RUSAGE_CHILDREN)`` of a wrapper that runs nothing else: the largest of the process and its loader
workers). A callback (``shards_clock.py``) notes when the
first training step starts (seconds since the command was started) and counts real tokens ([PAD] excluded) or
samples over the steps after the first few.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from machine import cpu_model  # noqa: E402

WRAPPER = """
import json, resource, subprocess, sys, time
start = time.time()
done = subprocess.run(sys.argv[2:], env={{**__import__("os").environ, "SHARDS_CLOCK_START": str(start), "SHARDS_CLOCK_OUT": sys.argv[1]}},
                      capture_output=True, text=True)
if done.returncode:
    sys.exit(done.stderr[-3000:])
result = {{"wall_s": round(time.time() - start, 1), "peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024}}
last = (done.stdout.strip().splitlines() or [""])[-1]
if last.startswith("{{"):  # a measurement script's own JSON line
    result.update(json.loads(last))
print(json.dumps(result))
"""


def measured(command: list[str]) -> dict:
    """Run ``command`` in a fresh wrapper process: its wall time, peak RSS and what the clock callback wrote."""
    out = Path(f"/tmp/shards_clock_{os.getpid()}_{time.time_ns()}.json")
    env = {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{HERE}"}
    done = subprocess.run([sys.executable, "-c", WRAPPER.format(), str(out), *command], capture_output=True, text=True, env=env)
    if done.returncode:
        raise SystemExit(done.stderr[-3000:])
    result = json.loads(done.stdout.strip().splitlines()[-1])
    if out.exists():
        result.update(json.loads(out.read_text()))
        out.unlink()
    return result


def vit_bert(*args: str) -> list[str]:
    return [sys.executable, "-c", "from vit_bert.commands import main; main()", *args]


def corpus(sst2: Path, out: Path, mb: float, seed: int) -> None:
    """SST-2's training words, drawn by their frequency into sentences of SST-2's lengths, until ``mb`` MB."""
    import numpy as np

    sentences = [line.split("\t")[0].split() for line in (sst2 / "train.tsv").read_text().splitlines()[1:]]
    vocabulary, counts = np.unique(np.array([w for s in sentences for w in s]), return_counts=True)
    lengths = np.array([len(s) for s in sentences])
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    written, lines = 0, 0
    with open(out / "train.txt", "w", encoding="utf-8") as f:
        while written < mb * 1e6:
            words = vocabulary[rng.choice(len(vocabulary), size=(10000, lengths.max()), p=counts / counts.sum())]
            for row, n in zip(words, rng.choice(lengths, size=10000)):
                line = " ".join(row[:n]) + "\n"
                f.write(line)
                written, lines = written + len(line.encode()), lines + 1
    print(f"wrote {out / 'train.txt'}: {lines:,} lines, {written / 1e6:.0f} MB")


LOADER = """
import json, time
from vit_bert.data import ImageDataModule
dm = ImageDataModule("folder", root={root!r}, pipeline="stream", image_size=224, batch_size=64, num_workers=2, val_fraction=0.1,
                     auto_augment="rand-m9-mstd0.5", re_prob=0.25)
start = time.time()
dm.setup()
it = iter(dm.train_dataloader()); next(it)
first = time.time() - start
start, n = time.perf_counter(), 0
for _ in range({batches}):
    n += len(next(it)["labels"])
print(json.dumps({{"first_batch_s": round(first, 1), "images_per_s": round(n / (time.perf_counter() - start), 1)}}))
"""

MLM = ["fit", "--config", "mlm_pretrain", "--data.text_column", "text", "--trainer.enable_progress_bar", "false",
       "--trainer.enable_model_summary", "false", "--trainer.limit_val_batches", "0", "--trainer.callbacks+=shards_clock.Clock"]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("corpus")
    p.add_argument("sst2", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--mb", type=float, default=237)
    p.add_argument("--seed", type=int, default=0)
    p = sub.add_parser("prepare")
    p.add_argument("source")
    p.add_argument("out")
    p = sub.add_parser("mlm")
    p.add_argument("folder")
    p.add_argument("prepared")
    p.add_argument("--steps", type=int, default=40)
    p = sub.add_parser("photos")
    p.add_argument("folder")
    p.add_argument("prepared")
    p.add_argument("--batches", type=int, default=40)
    p = sub.add_parser("ddp")
    p.add_argument("prepared")
    p.add_argument("--steps", type=int, default=60)
    args = parser.parse_args(argv)
    if args.command == "corpus":
        return corpus(args.sst2, args.out, args.mb, args.seed)
    print(f"# {cpu_model()}, {os.cpu_count()} cores, {time.strftime('%Y-%m-%d')}", flush=True)
    if args.command == "prepare":
        print("prepare", measured(vit_bert("prepare", args.source, args.out, "--overwrite")))
    elif args.command == "mlm":
        steps = ["--trainer.max_steps", str(args.steps), "--trainer.max_epochs", "-1"]
        for name, root in (("in memory", args.folder), ("shards", args.prepared)):
            print(name, measured(vit_bert(*MLM, "--data.root", root, *steps)), flush=True)
    elif args.command == "photos":
        for name, root in (("folder", args.folder), ("shards", args.prepared)):
            print(name, measured([sys.executable, "-c", LOADER.format(root=root, batches=args.batches)]), flush=True)
    else:
        # train.py, not ``python -c``: Lightning's DDP launcher starts the other rank with this process's own argv.
        common = [sys.executable, str(ROOT / "train.py"), "--config", "cifar10_vit", "--model.config.depth", "4", "--data.dataset", "folder",
                  "--data.image_size", "32", "--data.batch_size", "32", "--data.root", args.prepared, "--trainer.max_steps", str(args.steps),
                  "--trainer.limit_val_batches", "0", "--trainer.limit_test_batches", "0", "--trainer.enable_progress_bar", "false",
                  "--trainer.enable_model_summary", "false", "--trainer.callbacks+=shards_clock.Clock"]
        print("1 process, 2 loader workers", measured([*common, "--data.num_workers", "2"]), flush=True)
        print("2 processes (DDP, gloo), 1 loader worker each", measured([*common, "--data.num_workers", "1", "--trainer.strategy", "ddp",
                                                                         "--trainer.devices", "2", "--trainer.accelerator", "cpu"]), flush=True)

if __name__ == "__main__":
    main()
