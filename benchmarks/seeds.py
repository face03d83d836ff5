"""One recipe, several presets, several seeds: mean and spread of the test accuracy.

    python benchmarks/seeds.py --data ../shared/data/sst2                          # bert-mini vs modern-mini, seeds 0 1 2
    python benchmarks/seeds.py --data DIR --presets bert-mini modern-mini --seeds 0 1 2 3 -- --trainer.max_epochs 5

Each run is ``python train.py --config CONFIG --model.preset PRESET --seed_everything SEED --data.root DATA`` in a
subprocess (fit, then test the best checkpoint), with anything after ``--`` added to every run: the same recipe and
budget for every preset. Prints one line a run (test accuracy, wall time) and a line a preset (mean, population
standard deviation, min-max), and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from machine import cpu_model

ROOT = Path(__file__).resolve().parent.parent


def run(config: str, preset: str, seed: int, data: str, extra: list[str], log_dir: Path) -> dict:
    command = [sys.executable, str(ROOT / "train.py"), "--config", config, "--model.preset", preset, "--seed_everything", str(seed),
               "--data.root", data, "--trainer.enable_progress_bar", "false", "--trainer.default_root_dir", str(log_dir), *extra]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        raise SystemExit(f"{preset} seed {seed} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    accuracy = float(done.stdout.split("test accuracy: ")[1].split()[0])
    return {"preset": preset, "seed": seed, "test_accuracy": accuracy, "seconds": seconds}


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    extra = argv[argv.index("--") + 1:] if "--" in argv else []
    own = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="the data folder (--data.root of every run)")
    parser.add_argument("--config", default="sst2_bert")
    parser.add_argument("--presets", nargs="+", default=["bert-mini", "modern-mini"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--logs", default="runs/seeds", help="where the runs write their checkpoints and logs")
    parser.add_argument("--json", default="benchmarks/results/seeds.json")
    args = parser.parse_args(own)
    print(f"{cpu_model()}; {args.config} on {args.data}; extra: {' '.join(extra) or 'none'}", flush=True)
    runs = []
    for seed in args.seeds:  # seed-major: drift on a shared machine falls on every preset alike
        for preset in args.presets:
            result = run(args.config, preset, seed, args.data, extra, Path(args.logs) / preset.replace("/", "_") / str(seed))
            runs.append(result)
            print(f"{preset:<14} seed {seed}: test accuracy {result['test_accuracy']:.4f} ({result['seconds']:.0f} s)", flush=True)
    summary = {}
    for preset in args.presets:
        accuracies = [r["test_accuracy"] for r in runs if r["preset"] == preset]
        summary[preset] = {"mean": statistics.mean(accuracies), "std": statistics.pstdev(accuracies), "min": min(accuracies), "max": max(accuracies)}
        s = summary[preset]
        print(f"{preset:<14} mean {s['mean']:.4f}  std {s['std']:.4f}  range {s['min']:.4f}-{s['max']:.4f}  ({len(accuracies)} seeds)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"config": args.config, "extra": extra, "runs": runs, "summary": summary}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
