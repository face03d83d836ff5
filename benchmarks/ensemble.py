"""Test accuracy of averaged probabilities: what an ensemble of separately trained models would score.

    python benchmarks/sst2_regularisers.py --data DIR --seed 0 --test-probs s0.pt    # ... one file per run
    python benchmarks/ensemble.py s0.pt s1.pt s2.pt s3.pt s4.pt

Each file holds {"probs": (N, C) float, "labels": (N,) int} for the same N test examples in the same order.
Prints each run's accuracy, then for every ensemble size k the mean, min and max accuracy over all k-subsets
of the runs (the average of their probabilities, argmax).
"""

from __future__ import annotations

import argparse
import itertools

import torch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("runs", nargs="+", metavar="FILE.pt", help="files written by --test-probs")
    args = parser.parse_args()
    runs = [torch.load(path) for path in args.runs]
    labels = runs[0]["labels"]
    for path, run in zip(args.runs, runs):
        if not torch.equal(run["labels"], labels):
            raise SystemExit(f"{path} holds other test labels than {args.runs[0]}: pass runs on the same test split")
        print(f"{path}: {(run['probs'].argmax(-1) == labels).float().mean():.4f}")
    for k in range(2, len(runs) + 1):
        scores = [(sum(runs[i]["probs"] for i in subset).argmax(-1) == labels).float().mean().item()
                  for subset in itertools.combinations(range(len(runs)), k)]
        print(f"{k} models: mean {sum(scores) / len(scores):.4f}, min {min(scores):.4f}, max {max(scores):.4f} "
              f"over {len(scores)} subsets")


if __name__ == "__main__":
    main()
