"""Reading labelled text: local CSV / TSV / JSONL files, or a Hugging Face ``datasets`` name.

Each reader returns a ``TextRows``: texts and labels as two lists of str (labels kept as strings
until ``LabelMap`` turns them into ids; None where the split has no labels). One reader checks
every format's rows: a row with more or fewer fields than the header, or with a label column
but an empty label, stops with the file and line. Rows whose text is empty or whitespace are
dropped and counted.
"""

from __future__ import annotations

import csv
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from ..errors import DataError

log = logging.getLogger(__name__)

SUFFIXES = (".tsv", ".csv", ".jsonl", ".txt")  # .txt: one text per line, no labels
SPLIT_NAMES = {"train": ("train",), "val": ("val", "dev", "validation"), "test": ("test",)}
UNLABELLED = {None, "-1"}  # GLUE's hidden test labels are -1
TXT_COLUMN = "text"  # what a .txt file's lines are called, whatever data.text_column says


@dataclass
class TextRows:
    texts: list[str]
    labels: list[str | None]

    @property
    def labelled(self) -> bool:
        return any(label not in UNLABELLED for label in self.labels)

    def __len__(self) -> int:
        return len(self.texts)

    def subset(self, index) -> "TextRows":
        return TextRows([self.texts[i] for i in index.tolist()], [self.labels[i] for i in index.tolist()])


def find_split_files(root: str) -> dict[str, Path]:
    """root/{train,val|dev|validation,test}.{tsv,csv,jsonl,txt} -> {split: path}."""
    found = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            for suffix in SUFFIXES:
                path = Path(root) / f"{stem}{suffix}"
                if path.is_file() and split not in found:
                    found[split] = path
    if "train" not in found:
        raise DataError(f"no train.tsv, train.csv, train.jsonl or train.txt in data.root={root!r}")
    return found


def text_lines(content: str) -> list[str]:
    """``content`` split on newlines only (``\\n``, with a ``\\r`` before it dropped): ``str.splitlines`` would also split
    inside a line at U+2028, U+0085 or a form feed, which may stand in a text."""
    lines = content.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def _unique_keys(path: Path, number: int):
    def pairs_to_dict(pairs: list[tuple[str, object]]) -> dict:
        keys = [key for key, _ in pairs]
        twice = next((key for key in keys if keys.count(key) > 1), None)
        if twice is not None:
            raise DataError(f"{path} line {number} gives the key {twice!r} twice; each key once, or the last one would win silently")
        return dict(pairs)
    return pairs_to_dict


def read_utf8(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        line = path.read_bytes()[: err.start].count(b"\n") + 1
        raise DataError(f"{path} is not valid UTF-8 (line {line}, byte {err.start}); re-save it as UTF-8") from None


def _content(path: Path) -> str:
    content = read_utf8(path)
    if not content.strip():
        raise DataError(f"{path} is empty; expected a header row and labelled rows")
    return content


def _rows(path: Path) -> tuple[list[tuple[int, dict]], list[str]]:
    """-> ([(line number, row)], column names). Delimited rows keep extra fields under None and
    missing ones as None, for ``read_file`` to report."""
    content = _content(path)
    if path.suffix == ".txt":
        return [(number, {TXT_COLUMN: line}) for number, line in enumerate(text_lines(content), start=1)], [TXT_COLUMN]
    if path.suffix == ".jsonl":
        rows = []
        for number, line in enumerate(text_lines(content), start=1):
            if line.strip():
                try:
                    row = json.loads(line, object_pairs_hook=_unique_keys(path, number))
                except json.JSONDecodeError as err:
                    raise DataError(f"{path} line {number} is not valid JSON ({err.msg}, column {err.colno})") from None
                if not isinstance(row, dict):
                    raise DataError(f"{path} line {number} is a JSON {type(row).__name__}; expected an object such as "
                                    '{"text": "...", "label": "..."}')
                rows.append((number, row))
        return rows, sorted({key for _, row in rows for key in row})
    delimiter = "\t" if path.suffix == ".tsv" else ","
    # TSV files (SST-2, GLUE) contain bare quotes inside sentences: no quoting there.
    quoting = csv.QUOTE_NONE if delimiter == "\t" else csv.QUOTE_MINIMAL
    csv.field_size_limit(max(csv.field_size_limit(), len(content)))  # a long text is a text: the default cap is 131,072
    reader = csv.DictReader(text_lines(content), delimiter=delimiter, quoting=quoting)
    try:
        rows = [(reader.line_num, row) for row in reader]
    except csv.Error as err:
        raise DataError(f"{path} line {reader.line_num} cannot be read as {'TSV' if delimiter == chr(9) else 'CSV'} ({err})") from None
    columns = list(reader.fieldnames or [])
    twice = next((c for c in columns if columns.count(c) > 1), None)
    if twice is not None:
        raise DataError(f"{path}'s header names the column {twice!r} twice ({', '.join(columns)}); name each column once")
    return rows, columns


def columns_of(path: Path) -> list[str]:
    """The column names of a table (a .txt file: its one column)."""
    return _rows(path)[1]


def _check_fields(path: Path, number: int, row: dict, columns: list[str]) -> None:
    if path.suffix in (".jsonl", ".txt"):
        return
    extra, missing = row.get(None), [c for c in columns if row.get(c) is None]
    if extra or missing:
        found = len(columns) + len(extra or []) - len(missing)
        separator = "tabs" if path.suffix == ".tsv" else "commas"
        raise DataError(
            f"{path} line {number} has {found} fields; expected {len(columns)} ({', '.join(columns)}). "
            f"A text with {separator} in it must be quoted{' (TSV: no tab inside a field)' if path.suffix == '.tsv' else ''}"
        )


def _number(label: str) -> float | None:
    try:
        return float(label)
    except ValueError:
        return None


def _check_label_spellings(path: Path, first_line: dict[str | None, int]) -> None:
    """Labels that are the same number written two ways ('1' and '1.0') would become two classes: stop instead."""
    by_value: dict[float, list[str]] = {}
    for label in first_line:
        value = None if label is None else _number(label)
        if value is not None:
            by_value.setdefault(value, []).append(label)
    clash = next((spellings for spellings in by_value.values() if len(spellings) > 1), None)
    if clash:
        where = ", ".join(f"{spelling!r} (line {first_line[spelling]})" for spelling in clash)
        raise DataError(f"{path} spells one label as several numbers: {where}; write each label one way, or they become separate classes")
    by_case: dict[str, list[str]] = {}
    for label in first_line:
        if label is not None:
            by_case.setdefault(label.casefold(), []).append(label)
    clash = next((spellings for spellings in by_case.values() if len(spellings) > 1), None)
    if clash:
        where = ", ".join(f"{spelling!r} (line {first_line[spelling]})" for spelling in clash)
        raise DataError(f"{path} spells one label in several cases: {where}; write each label one way, or they become separate classes")
    named = [label for label in first_line if label is not None and label not in UNLABELLED and _number(label) is None]
    numbered = [label for label in first_line if label is not None and label not in UNLABELLED and _number(label) is not None]
    if named and numbered:
        raise DataError(f"{path} mixes numbered labels ({numbered[0]!r}, line {first_line[numbered[0]]}) with named ones "
                        f"({named[0]!r}, line {first_line[named[0]]}); use one kind, or each spelling becomes its own class")


def read_file(path: Path, text_column: str, label_column: str | None) -> TextRows:
    rows, columns = _rows(path)
    if path.suffix == ".txt":
        text_column = TXT_COLUMN
    for column in filter(None, (text_column, label_column)):
        if column not in columns:
            raise DataError(
                f"{path} has no column {column!r}; columns found: {columns}. "
                f"Set --data.text_column / --data.label_column to the right names"
            )
    texts, labels, empty, first_line = [], [], 0, {}
    for number, row in rows:
        _check_fields(path, number, row, columns)
        text = row.get(text_column)
        if text is None or not str(text).strip():
            empty += 1
            continue
        label = None if label_column is None or row.get(label_column) is None else str(row[label_column]).strip()
        if label_column is not None and not label:
            raise DataError(f"{path} line {number} has an empty {label_column!r}; expected a label on every row with text")
        texts.append(str(text))
        labels.append(label)
        first_line.setdefault(label, number)
    _check_label_spellings(path, first_line)
    if empty:
        log.warning("%s: skipped %d row(s) with empty text", path, empty)
    if not texts:
        raise DataError(f"{path} has no rows with text in column {text_column!r}")
    return TextRows(texts, labels)


def read_hf_dataset(name: str, text_column: str, label_column: str) -> dict[str, TextRows]:
    """e.g. 'stanfordnlp/sst2' or 'ag_news' (needs the ``datasets`` package and a network connection), or a folder a
    ``DatasetDict.save_to_disk`` wrote."""
    try:
        import datasets  # optional: only --data.hf_dataset needs it
    except ImportError:
        raise DataError(f"data.hf_dataset={name!r} needs the 'datasets' package: pip install datasets") from None
    try:
        loaded = datasets.load_from_disk(name) if Path(name).is_dir() else datasets.load_dataset(name)
    except Exception as err:
        raise DataError(
            f"could not load Hugging Face dataset {name!r} ({type(err).__name__}: {str(err)[:200]}). "
            f"Offline? Export it to train/test .tsv/.csv/.jsonl files and use --data.root instead"
        ) from None
    return hf_splits(loaded, name, text_column, label_column)


def hf_splits(loaded, name: str, text_column: str, label_column: str) -> dict[str, TextRows]:
    """A ``datasets.DatasetDict`` -> {train, val, test: TextRows}; label ids become their names where the features have them."""
    out = {}
    for split, stems in SPLIT_NAMES.items():
        for stem in stems:
            if stem in loaded and split not in out:
                part = loaded[stem]
                missing = [c for c in (text_column, label_column) if c is not None and c not in part.column_names]
                if missing:
                    raise DataError(f"{name}[{stem}] has no column {missing[0]!r}; columns: {part.column_names}")
                if label_column is None:
                    out[split] = TextRows(list(part[text_column]), [None] * len(part))
                    continue
                names = getattr(part.features[label_column], "names", None)
                labels = [names[i] if names and i >= 0 else str(i) for i in part[label_column]]
                out[split] = TextRows(list(part[text_column]), labels)
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
        unseen = sorted({label for label in labels if label not in self.index}, key=str)
        if unseen:
            raise DataError(f"{where} has labels not seen in training: {unseen[:5]}; known labels: {self.names}")
        return [self.index[label] for label in labels]
