"""The image data path on photo folders: start-up and memory, loader speed against timm's, and training overhead.

    python benchmarks/photos.py make CIFAR_JPEG_DIR photos --count 50000     # CIFAR-10 JPEGs upscaled to 256-640 x 256-480, q90
    python benchmarks/photos.py startup photos/1k photos/10k photos/50k      # time to the first batch, peak RSS (one process each)
    python benchmarks/photos.py loader photos/10k                            # images/s, vit_bert's streamed loader vs timm's
    python benchmarks/photos.py cifar CIFAR_JPEG_DIR                         # CIFAR-10: in memory vs streamed, and the automatic choice
    python benchmarks/photos.py train photos/10k                             # vit-s/16 at 224: Lightning fit vs a bare loop, same loader

``make`` writes ImageFolder trees: photos/50k/{train,test}/<class>/, and photos/1k, photos/10k as links to the first files
of it. Every measurement runs in a fresh process (``python -c``) so that peak RSS is that measurement's alone.
Train transforms everywhere: RandomResizedCrop 224, flip, rand-m9-mstd0.5, random erasing 0.25, bicubic, 2 workers.
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
sys.path.insert(0, str(ROOT))
AUGMENT = dict(auto_augment="rand-m9-mstd0.5", re_prob=0.25)


def make(source: Path, out: Path, count: int) -> None:
    import numpy as np
    from PIL import Image

    files = sorted((source / "train").rglob("*.jpg"))
    tests = sorted((source / "test").rglob("*.jpg"))
    rng = np.random.default_rng(0)
    order = rng.permutation(len(files))[:count]
    test_order = rng.permutation(len(tests))[: max(count // 10, 100)]
    jobs = [(files[i], out / "50k" / "train" / files[i].parent.name / files[i].name) for i in order]
    jobs += [(tests[i], out / "50k" / "test" / tests[i].parent.name / tests[i].name) for i in test_order]
    sizes = rng.integers((256, 256), (641, 481), size=(len(jobs), 2))
    for (src, dst), (w, h) in zip(jobs, sizes):
        dst.parent.mkdir(parents=True, exist_ok=True)
        if not dst.exists():
            Image.open(src).convert("RGB").resize((int(w), int(h)), Image.BICUBIC).save(dst, quality=90)
    for name, n in (("1k", 1000), ("10k", 10000)):  # the first n training files of each class, and the same test split
        for split, per in (("train", n // 10), ("test", None)):
            for folder in sorted((out / "50k" / split).iterdir()):
                target = out / name / split / folder.name
                target.mkdir(parents=True, exist_ok=True)
                for f in sorted(folder.iterdir())[:per]:
                    if not (target / f.name).exists():
                        (target / f.name).symlink_to(f.resolve())
    print(f"wrote {len(jobs)} photos under {out}/50k (and 1k, 10k)")


def in_fresh_process(code: str) -> dict:
    """Run ``code`` (which prints one JSON line last) in a new interpreter; -> that JSON."""
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    if result.returncode:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.strip().splitlines()[-1])


STARTUP = """
import json, resource, time
start = time.perf_counter()
from vit_bert.data import ImageDataModule
dm = ImageDataModule("folder", root={root!r}, image_size=224, batch_size=64, num_workers=2, auto_augment="rand-m9-mstd0.5", re_prob=0.25)
dm.setup()
batch = next(iter(dm.train_dataloader()))
first = time.perf_counter() - start
print(json.dumps({{"images": len(dm.splits["train"]) + len(dm.splits["val"]) + len(dm.splits["test"]), "pipeline": dm.pipeline,
                  "first_batch_s": round(first, 2), "peak_rss_main_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}}))
"""

VIT_BERT_LOADER = """
import json, time
from vit_bert.data import ImageDataModule
dm = ImageDataModule("folder", root={root!r}, image_size=224, batch_size=64, num_workers=2, val_fraction=0.0, auto_augment="rand-m9-mstd0.5", re_prob=0.25)
dm.setup()
it = iter(dm.train_dataloader()); next(it)
start, n = time.perf_counter(), 0
for _ in range({batches}):
    n += len(next(it)["labels"])  # normalised in the workers, as timm's are: nothing left for the main process
print(json.dumps({{"images_per_s": round(n / (time.perf_counter() - start), 1)}}))
"""

TIMM_LOADER = """
import json, time
from timm.data import create_dataset, create_loader
ds = create_dataset("", root={root!r} + "/train")
loader = create_loader(ds, input_size=(3, 224, 224), batch_size=64, is_training=True, use_prefetcher=False, num_workers=2,
                       auto_augment="rand-m9-mstd0.5", re_prob=0.25, interpolation="bicubic", persistent_workers=True)
it = iter(loader); next(it)
start, n = time.perf_counter(), 0
for _ in range({batches}):
    n += len(next(it)[1])
print(json.dumps({{"images_per_s": round(n / (time.perf_counter() - start), 1)}}))
"""

CIFAR = """
import json, time, logging
from vit_bert.data import ImageDataModule
start = time.perf_counter()
dm = ImageDataModule("folder", root={root!r}, batch_size=64, pipeline={pipeline!r}, val_fraction=0.02, image_size=32,
                     crop_padding=0, hflip=True)
dm.setup()
it = iter(dm.train_dataloader()); next(it)
setup = time.perf_counter() - start
start, n = time.perf_counter(), 0
for _ in range({batches}):
    dm.trainer = None
    n += len(dm.prepare_batch(next(it), training=True)["labels"])
print(json.dumps({{"pipeline": dm.pipeline, "setup_s": round(setup, 1), "images_per_s": round(n / (time.perf_counter() - start), 1)}}))
"""

TRAIN = """
import json, time, torch, lightning as L
import torch.nn.functional as F
import vit_bert
from vit_bert.data import ImageDataModule
from vit_bert.training import ClassificationTask
torch.manual_seed(0)
dm = ImageDataModule("folder", root={root!r}, image_size=224, batch_size=32, num_workers=2, val_fraction=0.0, auto_augment="rand-m9-mstd0.5", re_prob=0.25)
steps, warm = {steps}, 3
if {mode!r} == "bare":
    dm.setup()
    model = vit_bert.build_model("vit-s/16", num_classes=dm.contract.num_classes, img_size=224)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    it = iter(dm.train_dataloader())
    for step in range(steps):
        if step == warm:
            start = time.perf_counter()
        batch = next(it)
        loss = F.cross_entropy(model(batch["images"]), batch["labels"])
        optimizer.zero_grad(); loss.backward(); optimizer.step()
else:
    class Clock(L.Callback):
        def on_train_batch_start(self, trainer, *args):
            if trainer.global_step == warm:
                self.start = time.perf_counter()
    clock = Clock()
    task = ClassificationTask("vit-s/16", data_contract=dm.contract)
    trainer = L.Trainer(max_steps=steps, limit_val_batches=0, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[clock], precision="32-true")
    trainer.fit(task, dm)
    start = clock.start
print(json.dumps({{"images_per_s": round((steps - warm) * 32 / (time.perf_counter() - start), 2)}}))
"""


def machine() -> str:
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), "?")
    return f"{model}, {os.cpu_count()} cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("make")
    p.add_argument("source", type=Path)
    p.add_argument("out", type=Path)
    p.add_argument("--count", type=int, default=50000)
    p = sub.add_parser("startup")
    p.add_argument("roots", nargs="+")
    p = sub.add_parser("loader")
    p.add_argument("root")
    p.add_argument("--batches", type=int, default=40)
    p.add_argument("--repeats", type=int, default=3)
    p = sub.add_parser("cifar")
    p.add_argument("root")
    p.add_argument("--batches", type=int, default=300)
    p = sub.add_parser("train")
    p.add_argument("root")
    p.add_argument("--steps", type=int, default=15)
    args = parser.parse_args(argv)
    if args.command == "make":
        return make(args.source, args.out, args.count)
    print(f"# {machine()}, {time.strftime('%Y-%m-%d')}")
    if args.command == "startup":
        for root in args.roots:
            print(root, in_fresh_process(STARTUP.format(root=root)))
    elif args.command == "loader":
        ours, timm = [], []
        for _ in range(args.repeats):  # alternated: the machine's speed drifts between runs
            ours.append(in_fresh_process(VIT_BERT_LOADER.format(root=args.root, batches=args.batches))["images_per_s"])
            timm.append(in_fresh_process(TIMM_LOADER.format(root=args.root, batches=args.batches))["images_per_s"])
        print(f"images/s, vit_bert {ours}, timm {timm}; ratio of the means {sum(ours) / sum(timm):.2f}")
    elif args.command == "cifar":
        for pipeline in ("memory", "stream", "auto"):
            print(pipeline, in_fresh_process(CIFAR.format(root=args.root, pipeline=pipeline, batches=args.batches)))
    else:
        bare = in_fresh_process(TRAIN.format(root=args.root, steps=args.steps, mode="bare"))
        fit = in_fresh_process(TRAIN.format(root=args.root, steps=args.steps, mode="fit"))
        print("bare loop", bare, "lightning fit", fit, f"ratio {fit['images_per_s'] / bare['images_per_s']:.3f}")


if __name__ == "__main__":
    main()
