"""Kim's CNN-rand (2014) on an SST-2 folder: the reference the from-scratch text presets are measured against.

    python benchmarks/kim_cnn_rand.py --data ../shared/data/sst2                  # seeds 0 1 2
    python benchmarks/kim_cnn_rand.py --data DIR --seeds 0 --epochs 5

A plain PyTorch script, not library code: the paper's recipe on the folder's own sentences, so that a vit_bert
preset and the CNN are compared on the same training data. Kim's 82.7 was trained on the treebank's phrases as
well as its sentences; a sentence-level copy gives the CNN less to learn from, as it gives vit_bert.

Recipe (Kim 2014, "CNN-rand"): words split on spaces, a vocabulary of the training words (pad 0; a word not seen in
training maps to one unknown vector); embeddings (B, T) -> (B, T, 300), drawn from U[-0.25, 0.25] and trained;
convolutions of widths 3, 4, 5 with 100 filters each -> ReLU -> max over time -> (B, 300); dropout 0.5 ->
Linear -> (B, 2); Adadelta (rho 0.95, eps 1e-6, lr 1.0), batches of 50, 25 epochs, the rows of the output layer's
weight clipped to L2 norm 3 after each step. The test accuracy is taken at the epoch with the best dev accuracy.

Input: DIR/{train,dev,test}.tsv with a header ``sentence<TAB>label``. Prints one line a seed and the mean and
population standard deviation, and writes JSON (--json).
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import time
from pathlib import Path

import torch
from torch import nn

from machine import cpu_model

PAD, UNKNOWN = 0, 1
WIDTHS = (3, 4, 5)


def read_split(path: Path) -> tuple[list[list[str]], list[int]]:
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if not rows or set(rows[0]) != {"sentence", "label"}:
        raise SystemExit(f"{path}: expected a header 'sentence<TAB>label', found {list(rows[0]) if rows else 'no rows'}")
    return [row["sentence"].split() for row in rows], [int(row["label"]) for row in rows]


def encode(sentences: list[list[str]], vocabulary: dict[str, int]) -> torch.Tensor:
    """Word lists -> (N, T) ids, with max(WIDTHS) - 1 pads on each side (as Kim pads) so every filter fits."""
    margin = max(WIDTHS) - 1
    length = max(len(s) for s in sentences) + 2 * margin
    ids = torch.full((len(sentences), length), PAD, dtype=torch.long)
    for row, words in enumerate(sentences):
        ids[row, margin:margin + len(words)] = torch.tensor([vocabulary.get(w, UNKNOWN) for w in words], dtype=torch.long)
    return ids


class KimCNN(nn.Module):
    """(B, T) word ids -> (B, classes) logits."""

    def __init__(self, vocabulary_size: int, classes: int, dim: int = 300, filters: int = 100):
        super().__init__()
        self.embed = nn.Embedding(vocabulary_size, dim, padding_idx=PAD)
        nn.init.uniform_(self.embed.weight, -0.25, 0.25)
        with torch.no_grad():
            self.embed.weight[PAD].zero_()
        self.convs = nn.ModuleList(nn.Conv1d(dim, filters, width) for width in WIDTHS)
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(filters * len(WIDTHS), classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids).transpose(1, 2)  # (B, dim, T): Conv1d convolves over the last axis
        pooled = torch.cat([conv(x).relu().amax(dim=2) for conv in self.convs], dim=1)
        return self.out(self.dropout(pooled))


def accuracy(model: KimCNN, ids: torch.Tensor, labels: torch.Tensor) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(chunk).argmax(1) for chunk in ids.split(500)])
    return (predicted == labels).float().mean().item()


def run(seed: int, data: Path, epochs: int) -> dict:
    torch.manual_seed(seed)
    splits = {name: read_split(data / f"{name}.tsv") for name in ("train", "dev", "test")}
    vocabulary = {"<pad>": PAD, "<unk>": UNKNOWN}
    for words in splits["train"][0]:
        for w in words:
            vocabulary.setdefault(w, len(vocabulary))
    tensors = {name: (encode(s, vocabulary), torch.tensor(y)) for name, (s, y) in splits.items()}
    model = KimCNN(len(vocabulary), classes=int(tensors["train"][1].max()) + 1)
    optimizer = torch.optim.Adadelta(model.parameters(), lr=1.0, rho=0.95, eps=1e-6)
    train_ids, train_labels = tensors["train"]
    best = {"dev": -1.0}
    start = time.perf_counter()
    for epoch in range(epochs):
        model.train()
        for batch in torch.randperm(len(train_ids)).split(50):
            loss = nn.functional.cross_entropy(model(train_ids[batch]), train_labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            with torch.no_grad():  # Kim's norm constraint: each class's weight vector at most 3 long
                model.out.weight.copy_(torch.renorm(model.out.weight, p=2, dim=0, maxnorm=3.0))
        dev = accuracy(model, *tensors["dev"])
        if dev > best["dev"]:
            best = {"epoch": epoch + 1, "dev": dev, "test": accuracy(model, *tensors["test"])}
    return {"seed": seed, "best_epoch": best["epoch"], "dev_accuracy": best["dev"], "test_accuracy": best["test"],
            "vocabulary": len(vocabulary), "seconds": time.perf_counter() - start}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a folder with train.tsv, dev.tsv and test.tsv")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", default="benchmarks/results/kim_cnn_rand.json")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print(f"{cpu_model()}; torch {torch.__version__}; {args.threads} threads; {args.data}", flush=True)
    runs = []
    for seed in args.seeds:
        result = run(seed, args.data, args.epochs)
        runs.append(result)
        print(f"seed {seed}: test accuracy {result['test_accuracy']:.4f} at epoch {result['best_epoch']} "
              f"(dev {result['dev_accuracy']:.4f}; {result['seconds']:.0f} s)", flush=True)
    accuracies = [r["test_accuracy"] for r in runs]
    summary = {"mean": statistics.mean(accuracies), "std": statistics.pstdev(accuracies), "min": min(accuracies), "max": max(accuracies)}
    print(f"mean {summary['mean']:.4f}  std {summary['std']:.4f}  range {summary['min']:.4f}-{summary['max']:.4f}  ({len(runs)} seeds)")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"epochs": args.epochs, "runs": runs, "summary": summary}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
