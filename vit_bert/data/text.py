"""TextDataModule: labelled sentences from local files or a Hugging Face dataset, WordPiece-tokenized.

Batches: {"input_ids": (B, T) int64, "attention_mask": (B, T) int64, "labels": (B,) int64},
padded per batch to its longest sequence (T <= max_length).
``info`` tells the model the vocabulary size, pad id and classes; the tokenizer is
stored in the checkpoint (``state_dict``) and written as tokenizer.json into the run's folder.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from torch.utils.data import DataLoader

from .base import DataError, SplitDataModule
from .text_sources import LabelMap, find_split_files, read_file, read_hf_dataset
from .tokenizer import TextEncoder, load_tokenizer, train_wordpiece

log = logging.getLogger(__name__)


class TextDataModule(SplitDataModule):
    def __init__(
        self,
        root: str | None = None,
        train_file: str | None = None,
        val_file: str | None = None,
        test_file: str | None = None,
        hf_dataset: str | None = None,
        text_column: str = "text",
        label_column: str = "label",
        tokenizer: str | None = None,
        tokenizer_vocab_size: int = 8000,
        lowercase: bool = True,
        max_length: int = 128,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        val_fraction: float = 0.1,
        num_workers: int = 0,
        seed: int = 0,
    ):
        """
        Args:
            root: Folder with train.{tsv,csv,jsonl}, optional val|dev|validation.*, and test.*.
            train_file: Training file (instead of root).
            val_file: Validation file (optional).
            test_file: Test file.
            hf_dataset: A Hugging Face datasets name, e.g. stanfordnlp/sst2 (needs `datasets` and a network).
            text_column: Column holding the text.
            label_column: Column holding the label (integers or strings).
            tokenizer: tokenizer.json, vocab.txt, or a folder with one; default: train WordPiece on the training texts.
            tokenizer_vocab_size: Vocabulary size of a trained tokenizer.
            lowercase: Lower-case text (trained tokenizers and vocab.txt files).
            max_length: Longest sequence in tokens, [CLS] and [SEP] included; longer texts are truncated.
            batch_size: Training batch size.
            eval_batch_size: Validation/test batch size (default: batch_size).
            val_fraction: Share of train held out for validation when there is no validation file; 0 validates on test.
            num_workers: DataLoader worker processes.
            seed: Seed of the train/val split.
        """
        super().__init__()
        if not (root or train_file or hf_dataset):
            raise DataError("set one of --data.root (a folder with train/test files), --data.train_file, or --data.hf_dataset")
        self.save_hyperparameters()
        self.encoder: TextEncoder | None = None
        self.labels: LabelMap | None = None
        self.splits: dict[str, tuple[list[list[int]], list[int]]] | None = None

    def _read(self) -> dict[str, tuple[list[str], list[str | None]]]:
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
        raw = self._read()
        if "test" not in raw:
            raise DataError("no test split: add a test file (test.tsv/.csv/.jsonl or --data.test_file)")
        if hp.tokenizer:
            tokenizer = load_tokenizer(hp.tokenizer, hp.lowercase)
        else:
            tokenizer = train_wordpiece(raw["train"][0], hp.tokenizer_vocab_size, hp.lowercase)
        self.encoder = TextEncoder(tokenizer, hp.max_length)
        self.labels = LabelMap.from_labels(raw["train"][1])
        self.splits = {}
        for split, (texts, labels) in raw.items():
            ids, truncated = self.encoder.encode(texts)
            if truncated:
                log.warning("%s: %d of %d texts truncated to max_length=%d tokens", split, truncated, len(texts), hp.max_length)
            self.splits[split] = (ids, self.labels.ids(labels, f"the {split} split"))
        if "val" not in self.splits:
            ids, labels = self.splits["train"]
            if hp.val_fraction > 0:
                order = torch.randperm(len(ids), generator=torch.Generator().manual_seed(hp.seed)).tolist()
                n_val = int(round(hp.val_fraction * len(ids)))
                pick = lambda idx: ([ids[i] for i in idx], [labels[i] for i in idx])  # noqa: E731
                self.splits["val"], self.splits["train"] = pick(order[:n_val]), pick(order[n_val:])
            else:
                self.splits["val"] = self.splits["test"]

    @property
    def info(self) -> dict:
        self.load()
        return {
            "modality": "text",
            "num_classes": len(self.labels.names),
            "class_names": list(self.labels.names),
            "vocab_size": self.encoder.vocab_size,
            "pad_token_id": self.encoder.pad_id,
            "max_length": self.hparams.max_length,
        }

    def setup(self, stage: str | None = None) -> None:
        self.load()
        trainer = self.trainer
        if trainer is not None and trainer.log_dir and trainer.is_global_zero and stage == "fit":
            Path(trainer.log_dir).mkdir(parents=True, exist_ok=True)
            self.encoder.save(Path(trainer.log_dir) / "tokenizer.json")

    def collate(self, items: list[tuple[list[int], int]]) -> dict[str, torch.Tensor]:
        batch = self.encoder.collate([ids for ids, _ in items])
        batch["labels"] = torch.tensor([label for _, label in items], dtype=torch.long)
        return batch

    def _loader(self, split: str, train: bool) -> DataLoader:
        ids, labels = self.splits[split]
        hp = self.hparams
        return DataLoader(
            list(zip(ids, labels)),
            batch_size=hp.batch_size if train else (hp.eval_batch_size or hp.batch_size),
            shuffle=train,
            num_workers=hp.num_workers,
            collate_fn=self.collate,
        )

    def state_dict(self) -> dict:
        # Stored in every checkpoint, so predict can tokenize exactly as training did.
        return {"tokenizer": self.encoder.tokenizer.to_str(), "max_length": self.hparams.max_length} if self.encoder else {}
