"""A prepared folder (written by ``vit-bert prepare``): LitData shards per split, and what the data modules need beside them.

    OUT/prepared.json                     the manifest: modality, splits and their sample counts, class names, packing
    OUT/tokenizer.json                    text: the tokenizer every split was tokenized with
    OUT/{train,val,test}/index.json, *.bin   LitData shards (``litdata.optimize``) of one split
        images: {"image": the file's encoded bytes, "label": int}
        text, packing "sentences": {"input_ids": (T,) int32 with [CLS] ... [SEP], "label": int (-1 unlabelled)}
        text, packing "blocks": one token stream ((N,) int32, [CLS] ... [SEP] of each text in a row), cut into blocks of
            data.max_length tokens as it is read (LitData's TokensLoader)

``read_manifest(root)`` -> ``Manifest``; ``is_prepared(root)`` says whether a data root is such a folder. The root may
be a local path or an object storage URL that LitData reads (``s3://``, ``gs://``): the manifest and tokenizer are then
fetched with LitData's own storage client.
"""

from __future__ import annotations

import json
import tempfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ..errors import DataError
from ..json_file import read_json_object

MANIFEST = "prepared.json"
TOKENIZER = "tokenizer.json"
FORMAT = "vit_bert.prepared/1"
PACKINGS = ("sentences", "blocks")


def is_url(root: str) -> bool:
    return "://" in str(root)


def _fetch(root: str, name: str) -> Path | None:
    """``root/name`` as a local file, downloaded first when ``root`` is a URL; None when it is not there."""
    if not is_url(root):
        path = Path(root) / name
        return path if path.is_file() else None
    from litdata.streaming.fs_provider import _get_fs_provider  # object storage only: the client of the URL's scheme

    remote = f"{str(root).rstrip('/')}/{name}"
    provider = _get_fs_provider(remote)
    if not provider.exists(remote):
        return None
    local = Path(tempfile.mkdtemp(prefix="vit_bert_prepared_")) / name
    provider.download_file(remote, str(local))
    return local


@dataclass
class Manifest:
    modality: str
    """'image' or 'text'."""
    splits: dict[str, int]
    """Split name -> samples (text, blocks: tokens)."""
    class_names: list[str]
    """Label names in label-id order; [] for unlabelled text."""
    packing: str | None = None
    """Text: 'sentences' (one text per sequence) or 'blocks' (texts concatenated, cut into data.max_length blocks)."""
    source: str = ""
    """What it was prepared from."""
    fingerprints: dict[str, int] = field(default_factory=dict)
    """Split name -> a checksum of its shard index: another preparation gives another number."""
    format: str = FORMAT

    def write(self, folder: Path) -> None:
        (folder / MANIFEST).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @property
    def labelled(self) -> bool:
        return bool(self.class_names)


def is_prepared(root: str | None) -> bool:
    """Whether ``root`` is a folder ``vit-bert prepare`` wrote."""
    return root is not None and _fetch(str(root), MANIFEST) is not None


def read_manifest(root: str) -> Manifest:
    path = _fetch(root, MANIFEST)
    if path is None:
        raise DataError(f"{root} has no {MANIFEST}; it is not a folder written by vit-bert prepare")
    raw = read_json_object(path)
    if raw.get("format") != FORMAT:
        raise DataError(f"{path} is of format {raw.get('format')!r}; this vit_bert reads {FORMAT!r}: prepare the data again")
    try:
        manifest = Manifest(**raw)
    except TypeError as err:
        raise DataError(f"{path} is not a vit_bert prepared manifest ({err})") from None
    if "train" not in manifest.splits:
        raise DataError(f"{path} lists no train split; its splits: {list(manifest.splits)}")
    return manifest


def tokenizer_path(root: str) -> Path:
    path = _fetch(root, TOKENIZER)
    if path is None:
        raise DataError(f"{root} holds text shards but no {TOKENIZER}; prepare the data again")
    return path


def split_dir(root: str, split: str) -> str:
    return f"{str(root).rstrip('/')}/{split}"


def index_fingerprint(folder: Path) -> int:
    """A checksum of one split's LitData index (its chunks' names, sizes and sample counts)."""
    return zlib.crc32((folder / "index.json").read_bytes())


@dataclass
class PreparedSplit:
    """One split of a prepared folder, as the data modules' splits are (``len``, ``fingerprint``), with random access to
    one sample for the few that are read before training (the mean and std of images)."""

    root: str
    split: str
    samples: int
    checksum: int

    def __len__(self) -> int:
        return self.samples

    @property
    def path(self) -> str:
        return split_dir(self.root, self.split)

    def fingerprint(self) -> int:
        return self.checksum

    def subset(self, index):
        raise DataError(f"{self.root}: a prepared folder holds its validation split already; set data.val_fraction when preparing")

    def sample(self, index: int) -> dict:
        from litdata import StreamingDataset

        if not hasattr(self, "_dataset"):
            self._dataset = StreamingDataset(self.path)
        return self._dataset[index]

    def encoded(self, index: int) -> bytes:
        """Image shards: sample ``index``'s file bytes."""
        return self.sample(index)["image"]

    def name(self, index: int) -> str:
        return f"sample {index} of {self.path}"


def prepared_splits(root: str, manifest: Manifest) -> dict[str, PreparedSplit]:
    return {name: PreparedSplit(root, name, count, manifest.fingerprints.get(name, 0)) for name, count in manifest.splits.items()}
