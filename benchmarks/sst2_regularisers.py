"""Regularisers for a text encoder trained from scratch on SST-2, tried in a plain loop over the library's parts.

    python benchmarks/sst2_regularisers.py --data ../shared/data/sst2                       # the shipped recipe, seed 0
    python benchmarks/sst2_regularisers.py --data DIR --crop 0.5                            # span crops
    python benchmarks/sst2_regularisers.py --data DIR --set local_window=6 global_every=4    # any ModelConfig field

A benchmark, not library code: each trial changes the training step, which train.py's options do not reach, so
this loop rebuilds `configs/sst2_bert.yaml`'s recipe from the library's own pieces (TextDataModule's WordPiece
tokenizer and splits, `build_model`, the AdamW groups and warmup + cosine schedule): 3 epochs, batch 32, lr 5e-4,
weight decay 0.01, 10 % warmup, max 64 tokens, the test accuracy taken at the best validation accuracy. Its data
order and dropout draws are its own, so at one seed it lands near train.py's figure, not on it.

The trials (each off by default; --mixup, --fgm, --rdrop and --distil one at a time, the others with any):
    --mixup A    sentence mixup (Guo et al. 2019): pooled vectors (B, D) of two examples mixed, weight ~ Beta(A, A),
                 and their losses mixed alike
    --crop P     with probability P, a training sentence is cut to a random contiguous span of at least
                 --crop-min of its WordPiece tokens ([CLS] and [SEP] kept): phrase-like examples carrying the sentence's label
    --fgm E      adversarial training on the embeddings (Miyato et al. 2017): the loss again at the token vectors
                 moved by E along the loss gradient (L2 norm per sentence), added to the clean loss
    --rdrop A    R-Drop (Liang et al. 2021): two dropout passes, cross-entropy of both + A x their symmetric KL
    --sam R      sharpness-aware minimisation (Foret et al. 2021; for transformers from scratch, Chen et al. 2022): each
                 step's gradient taken at the weights moved by R along the normalised gradient, then applied at the
                 unmoved weights (two passes a step)
    --distil A   self-distillation (born-again networks, Furlanello et al. 2018): the shipped recipe trains a teacher
                 first; a new model of the same kind then learns (1 - A) x cross-entropy + A x T^2 x KL to the
                 teacher's temperature-T (2) probabilities on the same batch
    --evals N    validate N times an epoch instead of once (a finer choice of the tested checkpoint)
    --set K=V    a ModelConfig field, e.g. embed_dim=128 (factorised embeddings), local_window=6 global_every=4

--train-fraction F trains on a random F of the training sentences (drawn with --seed; the WordPiece vocabulary is
still learnt from all of them): a learning curve, how much the accuracy owes to the number of sentences.

Prints the validation/test accuracy at each validation and one JSON line at the end (appended to --json).
--test-probs FILE.pt also saves the tested model's test-set probabilities, for benchmarks/ensemble.py.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import random
import time
from pathlib import Path

import torch
import torch.nn.functional as F

import vit_bert
from vit_bert.data import TextDataModule
from vit_bert.data.text import TextSplit
from vit_bert.training.optim import param_groups, warmup_cosine

from machine import cpu_model

BATCH, EVAL_BATCH = 32, 256
TEMPERATURE = 2.0  # softens the teacher's targets in --distil


def parse_value(text: str):
    special = {"None": None, "true": True, "false": False}
    if text in special:
        return special[text]
    try:
        return int(text)
    except ValueError:
        return float(text)


def crop_span(ids: list[int], rng: random.Random, probability: float, least: float) -> list[int]:
    """[CLS] t_1 .. t_n [SEP] -> [CLS] t_i .. t_j [SEP], a span of at least ``least`` * n tokens (n >= 4)."""
    words = ids[1:-1]
    if len(words) < 4 or rng.random() >= probability:
        return ids
    length = rng.randint(math.ceil(least * len(words)), len(words))
    start = rng.randint(0, len(words) - length)
    return [ids[0], *words[start:start + length], ids[-1]]


def fit(model: torch.nn.Module, args: argparse.Namespace, data: TextDataModule, teacher: torch.nn.Module | None) -> dict:
    """Train ``model`` with the recipe and the trials in ``args``; leave it at its best validation weights.

    Returns {"val", "step", "test"}: the best validation accuracy, its step and the test accuracy there.
    """
    tokenizer = data.tokenizer
    rng = random.Random(args.seed)
    train, val, test = data.splits["train"], data.splits["val"], data.splits["test"]
    steps_per_epoch = math.ceil(len(train) / BATCH)
    total = steps_per_epoch * args.epochs
    optimizer = torch.optim.AdamW(param_groups(model, 0.01), lr=args.lr)
    schedule = warmup_cosine(optimizer, total, 0.1, 0.01)

    @torch.no_grad()
    def accuracy(split: TextSplit) -> float:
        model.eval()
        right = 0
        for start in range(0, len(split), EVAL_BATCH):
            batch = tokenizer.collate(split.ids[start:start + EVAL_BATCH])
            right += (model(**batch).argmax(-1) == torch.tensor(split.labels[start:start + EVAL_BATCH])).sum().item()
        model.train()
        return right / len(split)

    def loss_of(batch: dict, labels: torch.Tensor) -> torch.Tensor:
        if args.mixup:
            pooled = model.forward_head(model.forward_features(**batch), batch["attention_mask"], pre_logits=True)  # (B, D)
            weight = float(torch.distributions.Beta(args.mixup, args.mixup).sample())
            partner = torch.randperm(len(labels))
            logits = model.head.fc(model.head.drop(weight * pooled + (1 - weight) * pooled[partner]))
            return weight * F.cross_entropy(logits, labels) + (1 - weight) * F.cross_entropy(logits, labels[partner])
        if args.fgm:
            encoder_input = model.frontend(**batch)
            tokens, mask, positions = encoder_input.tokens, encoder_input.mask, encoder_input.positions

            def loss_at(x):
                return F.cross_entropy(model.head(model.encoder(x, mask, positions), mask), labels)

            clean = loss_at(tokens)
            (grad,) = torch.autograd.grad(clean, tokens, retain_graph=True)
            step = args.fgm * grad / (grad.flatten(1).norm(dim=1)[:, None, None] + 1e-12)
            return clean + loss_at(tokens + step.detach())
        if args.rdrop:
            first, second = model(**batch).log_softmax(-1), model(**batch).log_softmax(-1)
            kl = F.kl_div(first, second, log_target=True, reduction="batchmean") + F.kl_div(second, first, log_target=True, reduction="batchmean")
            return 0.5 * (F.nll_loss(first, labels) + F.nll_loss(second, labels)) + args.rdrop * 0.5 * kl
        if args.distil:
            with torch.no_grad():
                soft = (teacher(**batch) / TEMPERATURE).log_softmax(-1)
            logits = model(**batch)
            kl = F.kl_div((logits / TEMPERATURE).log_softmax(-1), soft, log_target=True, reduction="batchmean")
            return (1 - args.distil) * F.cross_entropy(logits, labels) + args.distil * TEMPERATURE**2 * kl
        return F.cross_entropy(model(**batch), labels)

    def sharpen(loss_fn) -> None:
        """Replace each .grad with the gradient at w + sam * g / |g| (SAM's ascent step), weights left at w."""
        params = [p for p in model.parameters() if p.grad is not None]
        norm = torch.linalg.vector_norm(torch.stack([p.grad.norm() for p in params]))
        moves = [args.sam * p.grad / (norm + 1e-12) for p in params]
        with torch.no_grad():
            for p, move in zip(params, moves):
                p.add_(move)
        optimizer.zero_grad()
        loss_fn().backward()
        with torch.no_grad():
            for p, move in zip(params, moves):
                p.sub_(move)

    best = {"val": -1.0, "step": 0, "test": 0.0}
    best_weights = copy.deepcopy(model.state_dict())
    step, started = 0, time.perf_counter()
    order_generator = torch.Generator().manual_seed(args.seed)
    for _ in range(args.epochs):
        order = torch.randperm(len(train), generator=order_generator).tolist()
        for start in range(0, len(order), BATCH):
            rows = order[start:start + BATCH]
            batch = tokenizer.collate([crop_span(train.ids[i], rng, args.crop, args.crop_min) for i in rows])
            labels = torch.tensor([train.labels[i] for i in rows])
            optimizer.zero_grad()
            loss_of(batch, labels).backward()
            if args.sam:
                sharpen(lambda: loss_of(batch, labels))
            optimizer.step()
            schedule.step()
            step += 1
            if step % max(1, steps_per_epoch // args.evals) == 0 or step == total:
                val_accuracy = accuracy(val)
                if val_accuracy > best["val"]:
                    best = {"val": val_accuracy, "step": step, "test": accuracy(test)}
                    best_weights = copy.deepcopy(model.state_dict())
                print(f"step {step}: val {val_accuracy:.4f}; best val {best['val']:.4f} at step {best['step']}, "
                      f"test {best['test']:.4f} ({time.perf_counter() - started:.0f} s)", flush=True)
    model.load_state_dict(best_weights)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="a folder with train/dev/test.tsv (sentence, label)")
    parser.add_argument("--preset", default="modern-mini")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=5e-4)
    parser.add_argument("--mixup", type=float, default=0.0)
    parser.add_argument("--crop", type=float, default=0.0)
    parser.add_argument("--crop-min", type=float, default=0.5)
    parser.add_argument("--fgm", type=float, default=0.0)
    parser.add_argument("--rdrop", type=float, default=0.0)
    parser.add_argument("--sam", type=float, default=0.0)
    parser.add_argument("--distil", type=float, default=0.0)
    parser.add_argument("--evals", type=int, default=1)
    parser.add_argument("--train-fraction", type=float, default=1.0)
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE")
    parser.add_argument("--json", default="benchmarks/results/sst2_regularisers.jsonl")
    parser.add_argument("--test-probs", metavar="FILE.pt", help="also save the tested model's test-set probabilities (N, 2)")
    args = parser.parse_args()
    if sum(bool(v) for v in (args.mixup, args.fgm, args.rdrop, args.distil)) > 1:
        parser.error("--mixup, --fgm, --rdrop and --distil each change the loss: pass one of them")
    if not 0 < args.train_fraction <= 1:
        parser.error(f"--train-fraction must be in (0, 1], got {args.train_fraction}")
    overrides = {key: parse_value(value) for key, value in (item.split("=", 1) for item in args.set)}

    torch.manual_seed(args.seed)
    data = TextDataModule(root=args.data, text_column="sentence", tokenizer_vocab_size=8000, max_length=64, batch_size=BATCH, seed=args.seed)
    data.load()
    contract = data.contract
    train = data.splits["train"]
    kept = torch.randperm(len(train), generator=torch.Generator().manual_seed(args.seed))[:round(args.train_fraction * len(train))]
    data.splits["train"] = train.subset(kept.sort().values)

    def new_model() -> torch.nn.Module:
        return vit_bert.build_model(args.preset, vocab_size=contract.vocab_size, pad_token_id=contract.pad_token_id,
                                    num_classes=2, max_len=128, **overrides)

    started = time.perf_counter()
    teacher = None
    if args.distil:
        teacher = new_model()
        plain = argparse.Namespace(**{**vars(args), "mixup": 0.0, "crop": 0.0, "fgm": 0.0, "rdrop": 0.0, "sam": 0.0, "distil": 0.0})
        print(f"teacher: {fit(teacher, plain, data, None)}", flush=True)
        teacher.eval()
    model = new_model()
    best = fit(model, args, data, teacher)
    if args.test_probs:
        model.eval()
        with torch.no_grad():
            test = data.splits["test"]
            batches = [data.tokenizer.collate(test.ids[i:i + EVAL_BATCH]) for i in range(0, len(test), EVAL_BATCH)]
            torch.save({"probs": torch.cat([model(**b).softmax(-1) for b in batches]), "labels": torch.tensor(test.labels)}, args.test_probs)
    trial = {k: v for k, v in vars(args).items() if k not in ("data", "json")}
    result = {"cpu": cpu_model(), **trial, **best, "seconds": round(time.perf_counter() - started)}
    print(json.dumps(result))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("a") as f:
        f.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
