"""WordPiece tokenization with the ``tokenizers`` library: train one on the training texts, or load one.

Output per text: ids [CLS] w1 ... wn [SEP], truncated to ``max_length``. A loaded tokenizer may name its special
tokens as RoBERTa does (<s> w1 ... wn </s>, <pad>, <mask>): ``special_tokens`` finds which convention it follows.
No Lightning here: the model, the weights loaders and predict use it as well as the data module.
``collate`` pads a list of id lists to the longest in the batch:
input_ids (B, T) with the [PAD] id, attention_mask (B, T) with 1 on real tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders
from tokenizers.implementations import BertWordPieceTokenizer, ByteLevelBPETokenizer

from .json_file import read_json_object
from .errors import ConfigError, SourceNotFoundError

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


@dataclass(frozen=True)
class SpecialTokens:
    """The names of a vocabulary's special tokens; ``ids`` looks them up."""

    cls: str
    sep: str
    pad: str
    unk: str
    mask: str

    def present(self, tokenizer: Tokenizer) -> bool:
        """Whether the tokenizer has the three every sequence needs ([CLS], [SEP], [PAD] or their names)."""
        return all(tokenizer.token_to_id(t) is not None for t in (self.cls, self.sep, self.pad))

    def ids(self, tokenizer: Tokenizer) -> dict[str, int | None]:
        return {role: tokenizer.token_to_id(name) for role, name in dataclasses.asdict(self).items()}


CONVENTIONS = (  # BERT's WordPiece (and ModernBERT's BPE) names, then RoBERTa's byte-level BPE ones
    SpecialTokens("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]"),
    SpecialTokens("<s>", "</s>", "<pad>", "<unk>", "<mask>"),
)


def special_tokens(tokenizer: Tokenizer) -> SpecialTokens:
    """The first convention whose [CLS], [SEP] and [PAD] the tokenizer has."""
    for convention in CONVENTIONS:
        if convention.present(tokenizer):
            return convention
    raise ConfigError("the tokenizer has neither BERT's [CLS], [SEP], [PAD] nor RoBERTa's <s>, </s>, <pad> tokens; "
                      "expected a BERT-style WordPiece or a RoBERTa-style BPE vocabulary")


def display_tokens(tokenizer: Tokenizer, ids: list[int]) -> list[str]:
    """The tokens as the attention figures label them: the vocabulary's own (``##ing``), except that a byte-level BPE's
    (RoBERTa, ModernBERT) are shown as the text they stand for, a space as ▁ (``Ġgood`` -> ``▁good``, ``Ã©`` -> ``é``);
    a token that is part of one character's bytes keeps its vocabulary name."""
    names = [tokenizer.id_to_token(i) for i in ids]
    if not isinstance(tokenizer.decoder, decoders.ByteLevel):
        return names
    texts = [tokenizer.decode([i], skip_special_tokens=False) for i in ids]
    return [name if "\ufffd" in text or not text else text.replace(" ", "\u2581") for name, text in zip(names, texts)]


def train_wordpiece(texts: list[str], vocab_size: int = 8000, lowercase: bool = True) -> Tokenizer:
    """A BERT WordPiece tokenizer trained on ``texts``; the same texts always give the same vocabulary.

    ``tokenizers``' trainer numbers the word-continuing pieces (``##e``, ``##s``, ...) in hash-map order, which changes
    from run to run, and breaks ties between equally frequent merges by those numbers, so the same texts gave other
    vocabularies and other token ids (huggingface/tokenizers#1794). Handing it those pieces, sorted, as tokens to
    number first fixes their ids and so every merge; the tokenizer is then rebuilt from the vocabulary, with only
    BERT's special tokens as special."""
    trained = BertWordPieceTokenizer(lowercase=lowercase)  # its normaliser and pre-tokenizer split texts into words
    pieces = sorted({f"##{char}" for text in texts
                     for word, _ in trained.pre_tokenizer.pre_tokenize_str(trained.normalizer.normalize_str(text))
                     for char in word[1:]})
    trained.train_from_iterator(texts, vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS + pieces, show_progress=False)
    return BertWordPieceTokenizer(trained.get_vocab(), lowercase=lowercase)._tokenizer  # the plain Tokenizer: one tokenizer.json


TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "vocab.json")  # in this order; vocab.json with merges.txt beside it


def tokenizer_file_in(folder: str | Path) -> Path | None:
    """A folder's tokenizer.json (preferred), vocab.txt or vocab.json (with its merges.txt), e.g. a Hugging Face model
    folder; None if none."""
    found = (Path(folder) / name for name in TOKENIZER_FILES)
    return next((path for path in found if path.is_file() and (path.name != "vocab.json" or _merges(path).is_file())), None)


def _merges(vocab_json: Path) -> Path:
    return vocab_json.with_name("merges.txt")


def load_tokenizer(path: str | Path, lowercase: bool | None = None) -> Tokenizer:
    """A tokenizer.json, a BERT vocab.txt, RoBERTa's vocab.json + merges.txt (its byte-level BPE, cased, as transformers
    builds it from them), or a directory holding one (a Hugging Face model folder).

    A vocab.txt is lower-cased as ``lowercase`` says, else as the ``tokenizer_config.json`` beside it says
    (``do_lower_case``: a cased BERT's is false), else it is; the two disagreeing is an error."""
    path = Path(path)
    if path.is_dir():
        found = tokenizer_file_in(path)
        if found is None:
            raise SourceNotFoundError(f"no tokenizer.json, vocab.txt or vocab.json with merges.txt in {path}")
        return load_tokenizer(found, lowercase)
    if not path.is_file():
        raise SourceNotFoundError(f"tokenizer file {path} does not exist; expected a tokenizer.json, vocab.txt or vocab.json")
    if path.name == "vocab.json":
        if not _merges(path).is_file():
            raise SourceNotFoundError(f"{path} is a byte-level BPE vocabulary; it needs the merges.txt beside it, which is missing")
        return ByteLevelBPETokenizer(str(path), str(_merges(path)), add_prefix_space=False)._tokenizer
    if path.suffix == ".json":
        return Tokenizer.from_file(str(path))
    return BertWordPieceTokenizer(str(path), lowercase=_vocab_lowercase(path, lowercase))._tokenizer


def _vocab_lowercase(vocab_txt: Path, lowercase: bool | None) -> bool:
    config_file = vocab_txt.with_name("tokenizer_config.json")
    stated = read_json_object(config_file).get("do_lower_case") if config_file.is_file() else None
    if lowercase is not None and stated is not None and lowercase != stated:
        raise ConfigError(f"lowercase={lowercase}, but {config_file} says do_lower_case={stated} for {vocab_txt.name}; "
                          "leave lowercase unset to follow the tokenizer's own setting")
    return next((value for value in (lowercase, stated) if value is not None), True)


class TextTokenizer:
    """Texts -> lists of ids with [CLS] (or <s>) first and [SEP] (</s>) last, truncated to max_length; and batch padding."""

    def __init__(self, tokenizer: Tokenizer, max_length: int = 128):
        self.special = special_tokens(tokenizer)
        if max_length < 2:
            raise ConfigError(f"max_length must be at least 2 ([CLS] and [SEP]); got {max_length}")
        # Padding and truncation happen here (per batch, counted); a Hugging Face tokenizer.json
        # may carry its own fixed padding (e.g. to 128), which would defeat both.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        self.max_length = max_length
        ids = self.special.ids(tokenizer)
        self.cls_id, self.sep_id, self.pad_id = ids["cls"], ids["sep"], ids["pad"]

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, texts: list[str]) -> tuple[list[list[int]], int]:
        """Returns the id lists and how many texts were cut to max_length."""
        # Special tokens are added here, not by the tokenizer's own post-processor, so that
        # trained and loaded tokenizers behave the same.
        encodings = self.tokenizer.encode_batch(list(texts), add_special_tokens=False)
        room = self.max_length - 2
        truncated = sum(len(e.ids) > room for e in encodings)
        return [[self.cls_id, *e.ids[:room], self.sep_id] for e in encodings], truncated

    def tokens(self, ids: list[int]) -> list[str]:
        return display_tokens(self.tokenizer, ids)

    def collate(self, sequences: list[list[int]]) -> dict[str, torch.Tensor]:
        longest = max(len(s) for s in sequences)
        input_ids = torch.full((len(sequences), longest), self.pad_id, dtype=torch.long)
        attention_mask = torch.zeros(len(sequences), longest, dtype=torch.long)
        for row, seq in enumerate(sequences):
            input_ids[row, : len(seq)] = torch.tensor(seq)
            attention_mask[row, : len(seq)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))
