"""Image splits as lists of files, read one at a time: an ImageFolder tree, a CSV/TSV/JSONL of paths, a Hugging Face dataset.

    scan_folder(root)                        -> ({split: ImageFiles}, class names)   root/{train,val,test}/<class>/**/<image>
    scan_table(root, image_column, label_column) -> the same, from root/{train,val,test}.{csv,tsv,jsonl} (paths relative to the file)
    scan_hf(name, image_column, label_column)    -> the same, from a Hugging Face image dataset (a Hub name or a save_to_disk folder)

``ImageFiles.encoded(i)`` is sample i's file (a path, or the bytes a Hugging Face dataset stores), decoded later,
in a DataLoader worker (``streamed_images.py``) or all at once (``image_sources.load_into_memory``). Nothing here
decodes pixels, so scanning a million files takes seconds and no memory per image.
"""

from __future__ import annotations

import logging
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ..errors import DataError
from .image_reading import IMAGE_SUFFIXES
from .text_files import SPLIT_NAMES, LabelMap, find_split_files, read_file

log = logging.getLogger(__name__)


@dataclass
class ImageFiles:
    """One split: ``sources[i]`` is a file path, or a row of ``hf`` (a ``datasets.Dataset`` whose ``image_column`` holds
    the encoded files); ``labels`` (N,) int64."""

    sources: list
    labels: torch.Tensor
    hf: object | None = field(default=None, repr=False)
    image_column: str = "image"

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: torch.Tensor) -> "ImageFiles":
        return ImageFiles([self.sources[i] for i in index.tolist()], self.labels[index], self.hf, self.image_column)

    def fingerprint(self) -> int:
        """A checksum of the file list and labels: another data set gives another number."""
        return zlib.crc32(self.labels.numpy().tobytes(), zlib.crc32("\n".join(map(str, self.sources)).encode()))

    def encoded(self, index: int) -> str | bytes:
        if self.hf is None:
            return self.sources[index]
        cell = self.hf[int(self.sources[index])][self.image_column]
        return cell["bytes"] if cell.get("bytes") else cell["path"]

    def name(self, index: int) -> str:
        return str(self.sources[index]) if self.hf is None else f"row {self.sources[index]} of the Hugging Face dataset"


def _class_folders(split_dir: Path) -> list[Path]:
    return sorted(p for p in split_dir.iterdir() if p.is_dir() and not p.name.startswith("."))


def _images_under(folder: Path) -> list[Path]:
    """Every image file below ``folder``, subfolders included (as torchvision's ImageFolder reads them), hidden ones not,
    in a fixed order."""
    found = []
    for directory, subfolders, names in os.walk(folder, followlinks=True):
        subfolders[:] = [d for d in subfolders if not d.startswith(".")]
        found += [os.path.join(directory, n) for n in names if not n.startswith(".") and os.path.splitext(n)[1].lower() in IMAGE_SUFFIXES]
    return [Path(p) for p in sorted(found)]


def scan_folder_split(split_dir: Path, class_names: list[str] | None) -> tuple[ImageFiles, list[str]]:
    """``split_dir/<class>/**/<image>``; labels follow ``class_names`` (the train split's) when given."""
    folders = _class_folders(split_dir)
    if not folders:
        raise DataError(f"{split_dir} has no class folders; expected {split_dir}/<class name>/<image files>")
    names = [f.name for f in folders]
    if class_names is None:
        class_names = names
    unknown = sorted(set(names) - set(class_names))
    if unknown:
        raise DataError(f"{split_dir} has classes not seen in train/: {unknown}; expected a subset of {class_names}")
    sources, labels, nested = [], [], 0
    for folder in folders:
        found = _images_under(folder)
        if not found and class_names is names:  # a training class without images would be a class nothing teaches
            raise DataError(f"class folder {folder} has no image files ({', '.join(sorted(IMAGE_SUFFIXES))}); "
                            "add images to it or remove it")
        nested += sum(1 for p in found if p.parent != folder)
        sources += [str(p) for p in found]
        labels += [class_names.index(folder.name)] * len(found)
    if nested:
        log.info("%s: %d image(s) in subfolders of class folders are read with their class folder's label", split_dir, nested)
    if not sources:
        raise DataError(f"{split_dir} has class folders but no image files ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return ImageFiles(sources, torch.tensor(labels, dtype=torch.long)), class_names


def scan_folder(root: str) -> tuple[dict[str, ImageFiles], list[str]]:
    root_path = Path(root)
    if not (root_path / "train").is_dir():
        raise DataError(f"no train/ folder in data.root={root!r}; expected {root}/train/<class>/*.jpg (and test/, optional val/)")
    splits = {}
    splits["train"], class_names = scan_folder_split(root_path / "train", None)
    for split in ("val", "test"):
        if (root_path / split).is_dir():
            splits[split], _ = scan_folder_split(root_path / split, class_names)
    return splits, class_names


def scan_table(root: str, image_column: str, label_column: str) -> tuple[dict[str, ImageFiles], list[str]]:
    """root/{train,val,test}.{tsv,csv,jsonl}: an image path (relative to the file, or absolute) and a label per row."""
    files = find_split_files(root)
    rows = {split: read_file(path, image_column, label_column) for split, path in files.items()}
    labels = LabelMap.from_labels(rows["train"].labels)
    splits = {}
    for split, table in rows.items():
        base = files[split].parent
        paths = [base / p for p in table.texts]
        missing = next((p for p in paths if not p.is_file()), None)
        if missing is not None:
            raise DataError(f"{files[split]} names {missing}, which is not a file; image paths are relative to the table's folder")
        ids = labels.ids(table.labels, str(files[split]))
        splits[split] = ImageFiles([str(p) for p in paths], torch.tensor(ids, dtype=torch.long))
    return splits, labels.names


def scan_hf(name: str, image_column: str, label_column: str) -> tuple[dict[str, ImageFiles], list[str]]:
    """A Hugging Face image dataset: a ``save_to_disk`` folder, or a Hub name (which needs a network)."""
    try:
        import datasets  # optional: only --data.dataset hf needs it
    except ImportError:
        raise DataError("--data.dataset hf needs the 'datasets' package: pip install datasets") from None
    try:
        loaded = datasets.load_from_disk(name) if Path(name).is_dir() else datasets.load_dataset(name)
    except Exception as err:
        raise DataError(f"could not load Hugging Face dataset {name!r} ({type(err).__name__}: {str(err)[:200]}). "
                        "Offline? Save it with save_to_disk where you are online and pass that folder") from None
    parts = {}
    for split, stems in SPLIT_NAMES.items():
        stem = next((stem for stem in stems if stem in loaded), None)
        if stem is not None:
            parts[split] = loaded[stem]
    if "train" not in parts:
        raise DataError(f"Hugging Face dataset {name!r} has no train split; its splits: {list(loaded)}")
    for split, part in parts.items():
        missing = [c for c in (image_column, label_column) if c not in part.column_names]
        if missing:
            raise DataError(f"{name}[{split}] has no column {missing[0]!r}; columns: {part.column_names} "
                            "(--data.image_column, --data.label_column)")
    feature = parts["train"].features[label_column]
    names = list(getattr(feature, "names", None) or [])
    label_map = None if names else LabelMap.from_labels([str(v) for v in parts["train"][label_column]])
    splits = {}
    for split, part in parts.items():
        part = part.cast_column(image_column, datasets.Image(decode=False))
        raw = part[label_column]
        ids = raw if names else label_map.ids([str(v) for v in raw], f"{name}[{split}]")
        if names and any(not 0 <= i < len(names) for i in ids):
            raise DataError(f"{name}[{split}] has label ids outside 0..{len(names) - 1} (e.g. {min(ids)}); expected its ClassLabel's")
        splits[split] = ImageFiles(list(range(len(part))), torch.tensor(ids, dtype=torch.long), part, image_column)
    return splits, names or label_map.names
