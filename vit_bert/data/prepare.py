"""``vit-bert prepare SOURCE OUT``: a data set written once as LitData shards, for any number of processes and nodes to stream.

    SOURCE: an ImageFolder tree (SOURCE/train/<class>/...), a folder of tables (train.csv/.tsv/.jsonl: image paths and
            labels, or texts and labels), text files (train.txt: one text per line; or one such file), or a Hugging Face
            dataset name (with --modality)
    OUT:    a prepared folder (``prepared.py``), read wherever a data root is accepted (--data.root OUT)

Images are stored as their files' encoded bytes (OUT is about the size of the files); texts are tokenized once, with the
tokenizer given or one trained on the training texts as ``fit`` trains it, and either kept one per sequence (labelled
sets) or written as one token stream that is cut into blocks of data.max_length when read (masked-token pretraining,
as transformers' run_mlm.py ``group_texts``). Splits are the source's; a missing validation split is held out of train
as ``fit`` holds it out (--val_fraction, --seed). LitData's ``optimize`` writes the shards, one worker per core,
with its progress bar. OUT is written beside itself and renamed into place when complete; an existing OUT is refused
unless --overwrite is given, and is replaced only once the new one is whole.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import shutil
from pathlib import Path

import numpy as np
import torch
from litdata import optimize
from litdata.streaming.item_loader import TokensLoader

from ..errors import ConfigError, DataError
from ..json_file import read_json_object
from ..tokenizer import TextTokenizer, load_tokenizer, train_wordpiece
from .image_files import ImageFiles, scan_folder, scan_hf, scan_table
from .image_reading import header_size
from .prepared import TOKENIZER, Manifest, index_fingerprint
from .splits import with_validation
from .text import checkpoint_tokenizer, labelled_test
from .text_files import SUFFIXES, LabelMap, TextRows, columns_of, find_split_files, read_file, read_hf_dataset

log = logging.getLogger(__name__)

MODALITIES = ("image", "text")
IMAGE_CHUNK = "64MB"
TOKEN_CHUNK = 2**22  # tokens per chunk (16 MiB of int32); a chunk's last partial block is not read
ROWS_PER_TASK = 4096  # texts one optimize task tokenizes
HF_FOLDER = "dataset_dict.json"  # what DatasetDict.save_to_disk writes
UNTRUNCATED = 2**31 - 1  # texts are stored whole; data.max_length cuts them when they are read


def _workers(num_workers: int | None) -> int:
    return num_workers or len(os.sched_getaffinity(0))


def detect_modality(source: str, text_column: str, image_column: str) -> str:
    """'image' or 'text' from what SOURCE holds; a table that names both columns, or a Hugging Face name, needs --modality."""
    path = Path(source)
    if path.is_file():
        if path.suffix in SUFFIXES:
            return "text"
        raise DataError(f"{source} is a {path.suffix or 'suffix-less'} file; expected a folder, or a text file ({', '.join(SUFFIXES)})")
    if not path.is_dir():
        raise ConfigError(f"{source} is not a local file or folder; for a Hugging Face dataset name pass --modality image or text")
    if (path / HF_FOLDER).is_file():
        raise ConfigError(f"{source} is a Hugging Face dataset folder: pass --modality image or --modality text")
    if (path / "train").is_dir():
        return "image"
    train = find_split_files(source)["train"]
    if train.suffix == ".txt":
        return "text"
    names = columns_of(train)
    has_text, has_image = text_column in names, image_column in names
    if has_text != has_image:
        return "text" if has_text else "image"
    if not has_text:
        raise ConfigError(f"{train} has neither the text column {text_column!r} nor the image column {image_column!r} "
                          f"(columns: {names}); name one: --text_column or --image_column")
    raise ConfigError(f"{train} has columns {names}: which is the modality? pass --modality image (paths in "
                      f"--image_column) or --modality text (texts in --text_column)")


def check_output(source: str, output: Path, overwrite: bool) -> None:
    target, origin = output.resolve(), Path(source).resolve()
    if Path(source).exists() and (target == origin or target.is_relative_to(origin) or origin.is_relative_to(target)):
        raise ConfigError(f"{output} is or holds the source {source}: pass a folder outside it")
    if target.exists() and not target.is_dir():
        raise ConfigError(f"{output} is a file; pass a folder to write the shards into")
    if target.exists() and any(target.iterdir()) and not overwrite:
        raise ConfigError(f"{output} already exists and holds files; pass --overwrite to replace it, or another folder")
    folder = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    if not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write {output}: {folder} is not writable")


def _optimize(fn, inputs: list, output: Path, workers: int, **options) -> None:
    """LitData's ``optimize`` in forked workers (they share the source in memory); the start method it sets is put back."""
    previous = multiprocessing.get_start_method(allow_none=True)
    try:
        optimize(fn=fn, inputs=inputs, output_dir=str(output), num_workers=min(workers, len(inputs)), keep_data_ordered=True,
                 start_method="fork", mode="overwrite", **options)
    finally:
        multiprocessing.set_start_method(previous, force=True)


def _ordered(splits: dict) -> dict:
    return {name: splits[name] for name in ("train", "val", "test") if name in splits}


def _chunk_counts(folder: Path) -> tuple[int, int]:
    """(items, tokens) written into one split, from LitData's index."""
    chunks = read_json_object(folder / "index.json")["chunks"]
    return sum(c["chunk_size"] for c in chunks), sum(c.get("dim") or 0 for c in chunks)


class ImageBytes:
    """Sample i of one split -> {"image": its file's bytes, "label": int}."""

    def __init__(self, files: ImageFiles):
        self.files = files

    def __call__(self, index: int) -> dict:
        source = self.files.encoded(index)
        return {"image": Path(source).read_bytes() if isinstance(source, str) else bytes(source), "label": int(self.files.labels[index])}


def _readable(files: ImageFiles, where: str, skip_corrupt: bool) -> ImageFiles:
    """The files whose header reads as an image; an unreadable one stops (or, with skip_corrupt, is left out)."""
    bad = [i for i in range(len(files)) if header_size(files.encoded(i)) is None]
    if bad and not skip_corrupt:
        raise DataError(f"{files.name(bad[0])} is not a readable image ({len(bad)} such in {where}); remove it, or pass "
                        "--skip_corrupt to leave unreadable files out")
    if bad:
        log.warning("%s: left out %d unreadable file(s), e.g. %s", where, len(bad), files.name(bad[0]))
        keep = sorted(set(range(len(files))) - set(bad))
        return files.subset(torch.tensor(keep, dtype=torch.long))
    return files


def prepare_images(source: str, folder: Path, image_column: str, label_column: str, val_fraction: float, seed: int,
                   workers: int, skip_corrupt: bool) -> Manifest:
    path = Path(source)
    if path.is_dir() and (path / "train").is_dir():
        splits, class_names = scan_folder(source)
    elif path.is_dir() and not (path / HF_FOLDER).is_file():
        splits, class_names = scan_table(source, image_column, label_column)
    else:
        splits, class_names = scan_hf(source, image_column, label_column)
    if "test" not in splits:
        raise DataError(f"no test split in {source}; expected a test/<class>/ folder or a test table")
    splits = _ordered(with_validation(splits, val_fraction, seed))
    for split, files in splits.items():
        files = _readable(files, f"{source} {split}", skip_corrupt)
        _optimize(ImageBytes(files), list(range(len(files))), folder / split, workers, chunk_bytes=IMAGE_CHUNK)
    counts = {split: _chunk_counts(folder / split)[0] for split in splits}
    return Manifest("image", counts, list(class_names), source=source)


def read_texts(source: str, text_column: str, label_column: str | None) -> dict[str, TextRows]:
    path = Path(source)
    if path.is_file():
        files = {"train": path}
    elif path.is_dir() and not (path / HF_FOLDER).is_file():
        files = find_split_files(source)
    else:
        return read_hf_dataset(source, text_column, label_column)
    if all(f.suffix == ".txt" for f in files.values()):
        label_column = None  # a .txt file is one text per line: there are no labels to read
    return {split: read_file(f, text_column, label_column) for split, f in files.items()}


class Tokenize:
    """A range of rows of one split -> their token ids ([CLS] ... [SEP]): one item per text, or (blocks) all of them in
    one array, which LitData's TokensLoader appends to the split's stream."""

    def __init__(self, rows: TextRows, tokenizer: TextTokenizer, labels: LabelMap | None, blocks: bool, where: str):
        self.rows, self.tokenizer, self.labels, self.blocks, self.where = rows, tokenizer, labels, blocks, where

    def __call__(self, span: tuple[int, int]):
        start, end = span
        ids, _ = self.tokenizer.encode(self.rows.texts[start:end])
        if self.blocks:  # one stream: the span's texts one after the other (one array: LitData writes items one by one)
            yield np.fromiter((i for seq in ids for i in seq), dtype=np.int32)
            return
        labels = self.labels.ids(self.rows.labels[start:end], self.where) if self.labels is not None else [-1] * len(ids)
        for seq, label in zip(ids, labels):
            yield {"input_ids": np.asarray(seq, dtype=np.int32), "label": label}


def _tokenizer(raw: dict[str, TextRows], tokenizer: str | None, vocab_size: int, lowercase: bool | None):
    if tokenizer and Path(tokenizer).suffix == ".ckpt":
        return checkpoint_tokenizer(Path(tokenizer))
    if tokenizer:
        return load_tokenizer(tokenizer, lowercase)
    return train_wordpiece(raw["train"].texts, vocab_size, lowercase is not False)


def prepare_text(source: str, folder: Path, text_column: str, label_column: str | None, tokenizer: str | None,
                 vocab_size: int, lowercase: bool | None, pack: bool | None, val_fraction: float, seed: int,
                 workers: int) -> Manifest:
    raw = read_texts(source, text_column, label_column)
    labelled = any(rows.labelled for rows in raw.values())
    blocks = not labelled if pack is None else pack
    if blocks and labelled:
        raise ConfigError(f"{source} is labelled: packing texts into blocks would mix their labels; leave --pack unset "
                          "(one text per sequence), or pass --label_column null to pretrain on the texts alone")
    if labelled:
        if "test" not in raw:
            raise DataError(f"{source}: no test split; add a test file (test.tsv/.csv/.jsonl)")
        raw = labelled_test(raw, source, val_fraction)
    elif "test" not in raw and "val" not in raw and val_fraction <= 0:
        raise DataError(f"{source}: unlabelled text without a test or validation file needs --val_fraction > 0 to hold some out")
    text_tokenizer = TextTokenizer(_tokenizer(raw, tokenizer, vocab_size, lowercase), UNTRUNCATED)
    labels = LabelMap.from_labels(raw["train"].labels) if labelled else None
    splits = _ordered(with_validation(raw, val_fraction, seed))
    for split, rows in splits.items():
        spans = [(start, min(start + ROWS_PER_TASK, len(rows.texts))) for start in range(0, len(rows.texts), ROWS_PER_TASK)]
        options = dict(chunk_size=TOKEN_CHUNK, item_loader=TokensLoader()) if blocks else dict(chunk_bytes=IMAGE_CHUNK)
        _optimize(Tokenize(rows, text_tokenizer, labels, blocks, f"the {split} split"), spans, folder / split, workers, **options)
    text_tokenizer.save(folder / TOKENIZER)
    counts = {split: _chunk_counts(folder / split)[1 if blocks else 0] for split in splits}
    return Manifest("text", counts, labels.names if labels else [], packing="blocks" if blocks else "sentences", source=source)


def _replace(temporary: Path, target: Path) -> None:
    """``temporary`` becomes ``target``; an old ``target`` is removed only once the new one is in place."""
    old = target.with_name(f".{target.name}.old-{os.getpid()}")
    if target.exists():
        os.replace(target, old)
    os.replace(temporary, target)
    if old.exists():
        shutil.rmtree(old)


def prepare(
    source: str,
    output: str,
    modality: str | None = None,
    tokenizer: str | None = None,
    tokenizer_vocab_size: int = 8000,
    lowercase: bool | None = None,
    text_column: str = "text",
    label_column: str | None = "label",
    image_column: str = "image",
    pack: bool | None = None,
    val_fraction: float = 0.1,
    seed: int = 0,
    skip_corrupt: bool = False,
    num_workers: int | None = None,
    overwrite: bool = False,
) -> None:
    """Write a data set as LitData shards into a new folder, for --data.root.

    Args:
        source: An ImageFolder tree, a folder of train/val/test tables or text files, one text file, or a Hugging Face dataset name.
        output: The folder to write (a new one; an existing one with files only with --overwrite).
        modality: image or text; default: what SOURCE holds (needed for a Hugging Face name, or a table with both columns).
        tokenizer: Text: a tokenizer.json, vocab.txt, vocab.json, model folder or train.py checkpoint; default: train WordPiece on the training texts.
        tokenizer_vocab_size: Text: vocabulary size of a trained tokenizer.
        lowercase: Text: lower-case (trained tokenizers: yes by default; vocab.txt files: as their config says).
        text_column: Text: the column holding the text.
        label_column: The column holding the label; null: unlabelled text (masked-token pretraining).
        image_column: Images: the column of the image paths (tables) or images (Hugging Face).
        pack: Text: concatenate the texts into one stream cut into data.max_length blocks (default: for unlabelled text);
            false keeps one text per sequence.
        val_fraction: Share of train held out for validation when SOURCE has no validation split.
        seed: Seed of that hold-out.
        skip_corrupt: Images: leave files whose header cannot be read out, with a warning, instead of stopping.
        num_workers: Worker processes (default: one per core).
        overwrite: Replace an existing OUT (only once the new one is complete).
    """
    if modality is not None and modality not in MODALITIES:
        raise ConfigError(f"--modality {modality}: expected one of {', '.join(MODALITIES)}")
    if not 0 <= val_fraction < 1:
        raise ConfigError(f"--val_fraction {val_fraction}: expected a share in [0, 1)")
    target = Path(output)
    check_output(source, target, overwrite)
    modality = modality or detect_modality(source, text_column, image_column)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    workers = _workers(num_workers)
    try:
        temporary.mkdir()
        if modality == "image":
            manifest = prepare_images(source, temporary, image_column, label_column or "label", val_fraction, seed, workers, skip_corrupt)
        else:
            manifest = prepare_text(source, temporary, text_column, label_column, tokenizer, tokenizer_vocab_size, lowercase, pack,
                                    val_fraction, seed, workers)
        manifest.fingerprints = {split: index_fingerprint(temporary / split) for split in manifest.splits}
        manifest.write(temporary)
        _replace(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    unit = "tokens" if manifest.packing == "blocks" else "images" if modality == "image" else "texts"
    counts = ", ".join(f"{split} {count:,}" for split, count in manifest.splits.items())
    size = sum(f.stat().st_size for f in target.rglob("*") if f.is_file())
    print(f"wrote {output}: {modality}, {counts} {unit}, {size / 2**20:.1f} MiB; train on it with --data.root {output}")
