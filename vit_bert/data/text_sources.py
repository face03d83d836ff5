"""Reading labelled text: local CSV / TSV / JSONL files, or a Hugging Face ``datasets`` name.

Each reader returns ``(texts, labels)`` as two lists of str (labels kept as strings
until ``LabelMap`` turns them into ids). Rows whose text is empty or whitespace
are dropped and counted.
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

from .base import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".tsv", ".csv", ".jsonl")
SPLIT_NAMES = {"train": ("train",), "val": ("val", "dev", "validation"), "test": ("test",)}


def find_split_files(root: str) -> dict[str, Path]:
    """root/{train,val|dev|validation,test}.{tsv,csv,jsonl} -> {split: path}."""
    found = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            for suffix in SUFFIXES:
                path = Path(root) / f"{stem}{suffix}"
                if path.is_file() and split not in found:
                    found[split] = path
    if "train" not in found:
        raise DataError(f"no train.tsv, train.csv or train.jsonl in data.root={root!r}")
    return found


def _rows(path: Path) -> tuple[list[dict], list[str]]:
    try:
        content = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{path} is not valid UTF-8 (line {line}, byte {err.start}); re-save it as UTF-8") from None
    if not content.strip():
        raise DataError(f"{path} is empty; expected a header row and labelled rows")
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(content.splitlines(), start=1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except json.JSONDecodeError as err:
                    raise DataError(f"{path} line {number} is not valid JSON ({err.msg})") from None
        columns = sorted({key for row in rows for key in row})
        return rows, columns
    delimiter = "\t" if path.suffix == ".tsv" else ","
    # TSV files (SST-2, GLUE) contain bare quotes inside sentences: no quoting there.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    reader = csv.DictReader(content.splitlines(), delimiter=delimiter, quoting=quoting)
    return list(reader), list(reader.fieldnames or [])


def read_file(path: Path, text_column: str, label_column: str | None) -> tuple[list[str], list[str | None]]:
    rows, columns = _rows(path)
    for column in filter(None, (text_column, label_column)):
        if column not in columns:
            raise DataError(
                f"{path} has no column {column!r}; columns found: {columns}. "
                f"Set --data.text_column / --data.label_column to the right names"
            )
    texts, labels, empty = [], [], 0
    for row in rows:
        text = row.get(text_column)
        if text is None or not str(text).strip():
            empty += 1
            continue
        texts.append(str(text))
        labels.append(None if label_column is None or row.get(label_column) is None else str(row[label_column]).strip())
    if empty:
        log.warning("%s: skipped %d row(s) with empty text", path, empty)
    if not texts:
        raise DataError(f"{path} has no rows with text in column {text_column!r}")
    return texts, labels


def read_hf_dataset(name: str, text_column: str, label_column: str) -> dict[str, tuple[list[str], list[str]]]:
    """e.g. 'stanfordnlp/sst2' or 'ag_news'. Needs the ``datasets`` package and a network connection."""
    try:
        import datasets
    except ImportError:
        raise DataError(f"data.hf_dataset={name!r} needs the 'datasets' package: pip install datasets") from None
    try:
        loaded = datasets.load_dataset(name)
    except Exception as err:
        raise DataError(
            f"could not load Hugging Face dataset {name!r} ({type(err).__name__}: {str(err)[:200]}). "
            f"Offline? Export it to train/test .tsv/.csv/.jsonl files and use --data.root instead"
        ) from None
    out = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            if stem in loaded and split not in out:
                part = loaded[stem]
                missing = [c for c in (text_column, label_column) if c not in part.column_names]
                if missing:
                    raise DataError(f"{name}[{stem}] has no column {missing[0]!r}; columns: {part.column_names}")
                names = part.features[label_column].names if hasattr(part.features[label_column], "names") else None
                labels = [names[i] if names and i >= 0 else str(i) for i in part[label_column]]
                out[split] = (list(part[text_column]), labels)
    return out


class LabelMap:
    """Label strings <-> ids 0..K-1, in sorted order (numeric when every label is an integer)."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.index = {name: i for i, name in enumerate(self.names)}

    @classmethod
    def from_labels(cls, labels: list[str | None]) -> "LabelMap":
        present = {label for label in labels if label is not None}
        if not present:
            raise DataError("the training data has no labels")
        numeric = all(label.lstrip("-").isdigit() for label in present)
        return cls(sorted(present, key=int) if numeric else sorted(present))

    def ids(self, labels: list[str | None], where: str) -> list[int]:
        unseen = sorted({label for label in labels if label not in self.index})
        if unseen:
            raise DataError(f"{where} has labels not seen in training: {unseen[:5]}; known labels: {self.names}")
        return [self.index[label] for label in labels]
