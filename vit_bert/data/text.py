"""TextDataModule: labelled sentences from local files or a Hugging Face dataset, WordPiece-tokenized.

Batches: {"input_ids": (B, T) int64, "attention_mask": (B, T) int64, "labels": (B,) int64},
padded per batch to its longest sequence (T <= max_length).
``contract`` tells the model the vocabulary size, pad id and classes, and carries the tokenizer
and max_length into checkpoints; the tokenizer is also written as tokenizer.json into the run's folder.
A test split without labels (a Hugging Face GLUE test split: all -1) is replaced by the
validation split, and validation is then held out from train (one log line says so).
A prepared folder (``vit-bert prepare``) as data.root is streamed from its LitData shards with the tokenizer it was
tokenized with: one text per sequence, or (prepared with packing) the token stream cut into blocks of max_length
tokens, every position real: {"input_ids": (B, max_length), "attention_mask": all 1, "labels": all -1}.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer
from torch.utils.data import DataLoader

from ..checkpoint_format import is_multitask, text_tokenizers
from ..config import DataContract
from ..errors import DataError
from ..tokenizer import TextTokenizer, load_tokenizer, train_wordpiece
from ..weights.files import load_pickle_safely
from .base import SplitDataModule
from .prepared import PreparedSplit, is_prepared, prepared_splits, read_manifest, tokenizer_path
from .splits import with_validation
from .streams import ShardBlocks, ShardSentences
from .text_files import LabelMap, TextRows, find_split_files, read_file, read_hf_dataset

log = logging.getLogger(__name__)

LARGE_TEXT = 50_000_000  # characters read into memory above which the log points to vit-bert prepare (a 238 MB corpus: 9.6 GB)


@dataclass
class TextSplit:
    ids: list[list[int]]
    labels: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    def subset(self, index: torch.Tensor) -> "TextSplit":
        return TextSplit([self.ids[i] for i in index.tolist()], [self.labels[i] for i in index.tolist()])

    def fingerprint(self) -> int:
        """A checksum of the token ids and labels: another data set gives another number."""
        return zlib.crc32(repr((self.ids, self.labels)).encode())


def checkpoint_holds_tokenizer(path: Path) -> bool:
    """Whether a train.py checkpoint has a text model's tokenizer (an image model's has none)."""
    return bool(text_tokenizers(load_pickle_safely(path)))


def checkpoint_tokenizer(path: Path) -> Tokenizer:
    """The tokenizer a train.py checkpoint's model was trained with (a resumed run must not train another);
    of a co-trained model's checkpoint, its one text task's."""
    ckpt = load_pickle_safely(path)
    tokenizers = text_tokenizers(ckpt)
    if is_multitask(ckpt) and len(tokenizers) != 1:
        raise DataError(f"{path} holds the tokenizers of the text tasks {', '.join(tokenizers) or '(none)'}; "
                        "pass each one's as --data.tasks.<task>.init_args.tokenizer (a tokenizer.json)")
    if not tokenizers:
        raise DataError(f"{path} holds no tokenizer; pass --data.tokenizer (a tokenizer.json, vocab.txt, vocab.json or folder)")
    return Tokenizer.from_str(next(iter(tokenizers.values())))


def labelled_test(raw: dict[str, TextRows], source: str, val_fraction: float) -> dict[str, TextRows]:
    """Replace an unlabelled test split by the validation split (which is then held out from train). -1 marks a missing
    label only where it is not one of the training classes."""
    if raw["test"].labelled or "-1" in raw["train"].labels:
        return raw
    if "val" not in raw or not raw["val"].labelled:
        raise DataError(f"{source}: the test split has no labels (all empty or -1) and there is no labelled validation split to test on")
    if val_fraction <= 0:
        raise DataError(f"{source}: the test split has no labels, so the validation split becomes the test split; set data.val_fraction > 0")
    log.warning(
        "%s: the test split has no labels (all -1); testing on the validation split instead, validating on %.0f%% held out from train",
        source, 100 * val_fraction,
    )
    rest = {split: rows for split, rows in raw.items() if split != "val"}
    return {**rest, "test": raw["val"]}


class TextDataModule(SplitDataModule):
    tokenizer_file_name = "tokenizer.json"  # written into the run's folder; a co-training run names it per task

    def __init__(
        self,
        root: str | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        hf_dataset: str | None = None,
        text_column: str = "text",
        label_column: str | None = "label",
        tokenizer: str | None = None,
        tokenizer_vocab_size: int = 8000,
        lowercase: bool | None = None,
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        val_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
    ):
        """
        Args:
            root: Folder with train.{tsv,csv,jsonl}, optional val|dev|validation.*, and test.*; or a prepared folder (or
                s3:// URL) written by vit-bert prepare.
            train_file: Training file (instead of root).
            val_file: Validation file (optional).
            test_file: Test file.
            hf_dataset: A Hugging Face datasets name, e.g. stanfordnlp/sst2 (needs `datasets` and a network).
            text_column: Column holding the text.
            label_column: Column holding the label (integers or strings); null for unlabelled text (masked-token
                pretraining: .txt files with one text per line work too, and the test split is optional).
            tokenizer: tokenizer.json, vocab.txt, vocab.json (merges.txt beside it), a folder with one, or a train.py
                checkpoint (the tokenizer it was trained with; --ckpt_path sets this); default: train WordPiece on the
                training texts.
            tokenizer_vocab_size: Vocabulary size of a trained tokenizer.
            lowercase: Lower-case text: trained tokenizers (default: yes) and vocab.txt files (default: as the
                tokenizer_config.json beside it says, else yes).
            max_length: Longest sequence in tokens, [CLS] and [SEP] included; longer texts are truncated.
            batch_size: Training batch size.
            eval_batch_size: Validation/test batch size (default: batch_size).
            val_fraction: Share of train held out for validation when there is no validation file; 0 validates on test.
            num_workers: DataLoader worker processes.
            seed: Seed of the train/val split and of the training order (a fixed shuffle per epoch, resumable mid-epoch).
        """
        super().__init__()
        if not (root or train_file or hf_dataset):
            raise DataError("set one of --data.root (a folder with train/test files), --data.train_file, or --data.hf_dataset")
        self.save_init_arguments()
        self.check_settings()
        self.tokenizer: TextTokenizer | None = None
        self.labels: LabelMap | None = None
        self.splits: dict[str, TextSplit | PreparedSplit] | None = None
        self.packing: str | None = None  # a prepared folder's: sentences or blocks

    def _read(self) -> dict[str, TextRows]:
        hp = self.hparams
        if hp.hf_dataset:
            return read_hf_dataset(hp.hf_dataset, hp.text_column, hp.label_column)
        if hp.train_file:
            files = {s: Path(f) for s, f in (("train", hp.train_file), ("val", hp.val_file), ("test", hp.test_file)) if f}
        else:
            files = find_split_files(hp.root)
        for split, path in files.items():
            if not path.is_file():
                raise DataError(f"{split} file {path} does not exist")
        return {split: read_file(path, hp.text_column, hp.label_column) for split, path in files.items()}

    def load(self) -> None:
        if self.splits is not None:
            return
        hp = self.hparams
        if hp.root and is_prepared(hp.root):
            self._load_prepared()
            return
        raw = self._read()
        characters = sum(len(text) for rows in raw.values() for text in rows.texts)
        if characters > LARGE_TEXT:
            log.warning("%.0f MB of text are tokenized into memory before the first step; `vit-bert prepare %s OUT` writes it once "
                        "as shards that --data.root OUT streams, with flat memory", characters / 1e6, hp.root or hp.train_file or hp.hf_dataset)
        unlabelled = hp.label_column is None
        if "test" not in raw and not unlabelled:
            raise DataError("no test split: add a test file (test.tsv/.csv/.jsonl or --data.test_file)")
        if not unlabelled:
            raw = labelled_test(raw, hp.hf_dataset or hp.root or hp.test_file, hp.val_fraction)
        if hp.tokenizer and Path(hp.tokenizer).suffix == ".ckpt":
            tokenizer = checkpoint_tokenizer(Path(hp.tokenizer))
        elif hp.tokenizer:
            tokenizer = load_tokenizer(hp.tokenizer, hp.lowercase)
        else:
            tokenizer = train_wordpiece(raw["train"].texts, hp.tokenizer_vocab_size, hp.lowercase is not False)
        self.tokenizer = TextTokenizer(tokenizer, hp.max_length)
        self.labels = LabelMap([]) if unlabelled else LabelMap.from_labels(raw["train"].labels)
        splits = {}
        for split, rows in raw.items():
            ids, truncated = self.tokenizer.encode(rows.texts)
            if truncated:
                log.warning("%s: %d of %d texts truncated to max_length=%d tokens", split, truncated, len(rows.texts), hp.max_length)
            labels = [-1] * len(ids) if unlabelled else self.labels.ids(rows.labels, f"the {split} split")
            splits[split] = TextSplit(ids, labels)
        if "test" not in splits and "val" not in splits and hp.val_fraction <= 0:
            raise DataError("unlabelled text without a test or validation file needs data.val_fraction > 0 to hold some out")
        splits = with_validation(splits, hp.val_fraction, hp.seed)
        self.splits = {**splits, "test": splits.get("test", splits["val"])}  # unlabelled: test on validation if no test file

    def _load_prepared(self) -> None:
        hp = self.hparams
        manifest = read_manifest(hp.root)
        if manifest.modality != "text":
            raise DataError(f"{hp.root} holds {manifest.modality} shards; a text data module reads text shards (vit-bert prepare TEXTS OUT)")
        if hp.label_column is not None and not manifest.labelled:
            raise DataError(f"{hp.root} was prepared without labels ({manifest.packing}); set --data.label_column null for "
                            "masked-token pretraining, or prepare labelled files")
        tokenizer = Tokenizer.from_file(str(tokenizer_path(hp.root)))
        if hp.tokenizer:
            self._check_same_vocabulary(tokenizer)
        self.tokenizer = TextTokenizer(tokenizer, hp.max_length)
        self.labels = LabelMap([] if hp.label_column is None else manifest.class_names)
        self.packing = manifest.packing
        splits = prepared_splits(hp.root, manifest)
        self.splits = {**splits, "test": splits.get("test", splits["val"])}

    def _check_same_vocabulary(self, shards: Tokenizer) -> None:
        """A tokenizer given beside a prepared folder (--data.tokenizer, or the one --ckpt_path / --model.pretrained brings)
        must be the one the shards were tokenized with."""
        hp = self.hparams
        given = checkpoint_tokenizer(Path(hp.tokenizer)) if Path(hp.tokenizer).suffix == ".ckpt" else load_tokenizer(hp.tokenizer, hp.lowercase)
        if given.get_vocab() != shards.get_vocab():
            raise DataError(f"{hp.root} was tokenized with its own tokenizer ({shards.get_vocab_size():,} tokens); {hp.tokenizer} has "
                            f"another vocabulary ({given.get_vocab_size():,}). Prepare the data with --tokenizer {hp.tokenizer}")

    @property
    def contract(self) -> DataContract:
        self.load()
        return DataContract(
            "text", list(self.labels.names), vocab_size=self.tokenizer.vocab_size, pad_token_id=self.tokenizer.pad_id,
            max_length=self.hparams.max_length, tokenizer=self.tokenizer.tokenizer.to_str(),
        )

    def setup(self, stage: str | None = None) -> None:
        self.load()
        # trainer.log_dir is a broadcast in a DDP run: every rank asks, once (asked on rank 0 alone, the ranks' next
        # broadcasts would pair up wrongly and hang)
        log_dir = self.trainer.log_dir if self.trainer is not None else None
        if log_dir and self.trainer.is_global_zero and stage == "fit":
            Path(log_dir).mkdir(parents=True, exist_ok=True)
            self.tokenizer.save(Path(log_dir) / self.tokenizer_file_name)

    def collate(self, items: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        batch = self.tokenizer.collate([ids for ids, _ in items])
        batch["labels"] = torch.tensor([label for _, label in items], dtype=torch.long)
        return batch

    def collate_sentences(self, items: list[dict]) -> dict[str, torch.Tensor]:
        """Shard items, each cut to max_length with its [SEP] kept, padded per batch."""
        room = self.hparams.max_length - 1
        sequences = [ids.tolist() if len(ids) <= room + 1 else [*ids[:room].tolist(), int(ids[-1])] for ids in (i["input_ids"] for i in items)]
        batch = self.tokenizer.collate(sequences)
        batch["labels"] = torch.stack([item["labels"] for item in items])
        return batch

    @staticmethod
    def collate_blocks(items: list[dict]) -> dict[str, torch.Tensor]:
        input_ids = torch.stack([item["input_ids"] for item in items])
        return {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids), "labels": torch.stack([item["labels"] for item in items])}

    def _loader(self, split: str, train: bool) -> DataLoader:
        data, hp = self.splits[split], self.hparams
        if isinstance(data, PreparedSplit):
            if self.packing == "blocks":
                return self.make_stream_loader(ShardBlocks(data.path, hp.max_length, hp.seed, train), train, self.collate_blocks)
            return self.make_stream_loader(ShardSentences(data.path, hp.seed, train), train, self.collate_sentences)
        return self.make_loader(list(zip(data.ids, data.labels)), train, self.collate)
