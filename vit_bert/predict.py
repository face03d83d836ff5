"""Classify new inputs with a trained checkpoint.

    python train.py predict CHECKPOINT photo.jpg more_photos/        # images: files or folders
    python train.py predict CHECKPOINT "a gripping film" reviews.txt   # text: sentences or .txt files (one per line)

Prints one line per input: the input, the predicted label and its probability.
The checkpoint alone is enough: the model config, class names, image
normalisation and (for text) the tokenizer are stored in it.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from timm.data import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

from .data.augment import BatchTransform
from .data.base import DataError
from .data.image_sources import IMAGE_SUFFIXES, decode_file
from .data.tokenizer import TextEncoder, load_tokenizer
from .model import build_model
from .presets import PRESETS
from .weights.load import build_from_pretrained, read_pretrained


def _default_info(model) -> dict:
    """What a model without training data info is fed: ImageNet normalisation at its own size, class indices as names."""
    config = model.config
    names = model.class_names or [str(i) for i in range(config.num_classes)]
    info = {"modality": config.modality, "class_names": names}
    if config.modality == "image":
        mean, std = (IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD) if config.in_chans == 3 else ([0.5] * config.in_chans, [0.5] * config.in_chans)
        return {**info, "image_size": config.img_size, "in_chans": config.in_chans, "mean": list(mean), "std": list(std)}
    return {**info, "max_length": config.max_len}


class Predictor:
    """A model source -> (inputs -> (label, probability)).

    ``source``: a train.py checkpoint (which also holds the class names, image normalisation and
    tokenizer), anything else ``load_pretrained`` reads, or a preset name (random weights). Files are
    read with safetensors or ``weights_only=True``: no code runs from them. ``tokenizer`` (a
    tokenizer.json / vocab.txt / folder) is needed for text models that do not carry one."""

    def __init__(self, source: str | Path, device: str = "cpu", tokenizer: str | Path | None = None):
        if isinstance(source, str) and source in PRESETS:
            self.model, self.info = build_model(source), None
        else:
            pretrained = read_pretrained(source)
            self.model, self.info = build_from_pretrained(pretrained), pretrained.data_info
        self.model.eval().to(device)
        self.device = device
        self.info = self.info or _default_info(self.model)
        self.class_names = self.info["class_names"]
        if self.info["modality"] == "text":
            found = load_tokenizer(tokenizer) if tokenizer else self.model.tokenizer
            if found is None:
                raise DataError(f"{source} carries no tokenizer; pass one (a tokenizer.json, vocab.txt or a folder with one)")
            self.text = TextEncoder(found, self.info.get("max_length", 128))
        else:
            self.transform = BatchTransform(self.info["mean"], self.info["std"], self.info["image_size"])

    def read_images(self, paths: list[Path]) -> torch.Tensor:
        """Image files -> (B, C, S, S) uint8 at the model's input size."""
        images = []
        for path in paths:
            try:
                images.append(decode_file(path, self.info["image_size"], self.info["in_chans"]))
            except Exception as err:
                raise DataError(f"cannot read image {path} ({err})") from None
        return torch.stack(images)

    def batch(self, inputs: list | torch.Tensor) -> dict[str, torch.Tensor]:
        """Image paths (or already read uint8 images) or sentences -> the model's keyword inputs, on the device."""
        if self.info["modality"] == "image":
            images = inputs if isinstance(inputs, torch.Tensor) else self.read_images(inputs)
            return {"images": self.transform(images.to(self.device), train=False)}
        ids, _ = self.text.encode(inputs)
        return {k: v.to(self.device) for k, v in self.text.collate(ids).items()}

    def label(self, logits: torch.Tensor) -> list[tuple[str, float]]:
        best = logits.float().softmax(dim=-1).max(dim=-1)
        return [(self.class_names[i], p) for i, p in zip(best.indices.tolist(), best.values.tolist())]

    @torch.inference_mode()
    def __call__(self, inputs: list) -> list[tuple[str, float]]:
        return self.label(self.model(**self.batch(inputs)))


def expand_inputs(raw: list[str], modality: str) -> list:
    """Folders -> their image files; .txt files -> their non-empty lines; anything else is a sentence (text)."""
    out = []
    for item in raw:
        path = Path(item)
        if modality == "image":
            if path.is_dir():
                out += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            elif path.is_file():
                out.append(path)
            else:
                raise FileNotFoundError(f"image {item} does not exist")
        elif path.suffix == ".txt" and path.is_file():
            out += [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        else:
            out.append(item)
    if not out:
        raise DataError("no inputs to classify (empty folder or file?)")
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="train.py predict", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="a .ckpt written by train.py (or a save_pretrained folder)")
    parser.add_argument("inputs", nargs="+", help="image files/folders, or sentences / .txt files")
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args(argv)
    predictor = Predictor(args.checkpoint, args.device)
    inputs = expand_inputs(args.inputs, predictor.info["modality"])
    for start in range(0, len(inputs), args.batch_size):
        chunk = inputs[start : start + args.batch_size]
        for item, (label, prob) in zip(chunk, predictor(chunk)):
            print(f"{item}\t{label}\t{prob:.4f}")
