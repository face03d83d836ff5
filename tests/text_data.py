"""Generated labelled text for tests: sentences whose label follows from their words."""

import json
import random

POSITIVE = "good great fine lovely superb warm bright charming".split()
NEGATIVE = "bad awful dull boring weak grim flat tedious".split()
FILLER = "the a movie film plot actors story was is and very quite".split()


def sentences(n: int, seed: int = 0) -> list[tuple[str, str]]:
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        label = rng.choice(["pos", "neg"])
        words = rng.sample(FILLER, 4) + [rng.choice(POSITIVE if label == "pos" else NEGATIVE)]
        rng.shuffle(words)
        rows.append((" ".join(words), label))
    return rows


def write(path, rows, fmt: str, text_column: str = "sentence", label_column: str = "label", int_labels: bool = False):
    def lab(label):
        return (1 if label == "pos" else 0) if int_labels else label

    if fmt == "jsonl":
        path.write_text("".join(json.dumps({text_column: t, label_column: lab(y)}) + "\n" for t, y in rows), encoding="utf-8")
        return
    sep = "\t" if fmt == "tsv" else ","
    lines = [f"{text_column}{sep}{label_column}"] + [f"{t}{sep}{lab(y)}" for t, y in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_splits(root, fmt: str = "tsv", n_train: int = 400, n_test: int = 100, int_labels: bool = True):
    root.mkdir(parents=True, exist_ok=True)
    write(root / f"train.{fmt}", sentences(n_train, 0), fmt, int_labels=int_labels)
    write(root / f"test.{fmt}", sentences(n_test, 1), fmt, int_labels=int_labels)
    return root


def roberta_style_tokenizer(texts: list[str], vocab_size: int = 300):
    """A byte-level BPE with RoBERTa's special tokens and ids (<s> 0, <pad> 1, </s> 2, <unk> 3, <mask> 4) and its
    post-processor, as a roberta-base folder's tokenizer.json has them."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import RobertaProcessing

    tokenizer = ByteLevelBPETokenizer()
    tokenizer.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"], show_progress=False)
    tokenizer = tokenizer._tokenizer
    tokenizer.post_processor = RobertaProcessing(("</s>", 2), ("<s>", 0))
    return tokenizer
