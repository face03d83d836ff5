"""Classify new inputs with a trained checkpoint.

    python train.py predict CHECKPOINT photo.jpg more_photos/        # images: files or folders
    python train.py predict CHECKPOINT "a gripping film" reviews.txt   # text: sentences or .txt files (one per line)

Prints one line per input: the input, the predicted label and its probability.
The checkpoint alone is enough: the model config, class names, image
normalisation and (for text) the tokenizer are stored in it.
"""

from __future__ import annotations

import argparse
import inspect
from pathlib import Path

import torch

from .data.augment import BatchTransform
from .data.base import DataError
from .data.image_sources import IMAGE_SUFFIXES, decode_file
from .data.tokenizer import TextEncoder
from .training.task import ClassificationTask


class Predictor:
    """Checkpoint -> (input -> (label, probability)). Loads with ``weights_only=True``: no code runs from the file."""

    def __init__(self, checkpoint: str | Path, device: str = "cpu"):
        try:
            ckpt = torch.load(checkpoint, map_location="cpu", weights_only=True)
        except FileNotFoundError:
            raise FileNotFoundError(f"checkpoint {checkpoint} does not exist") from None
        except Exception as err:
            raise DataError(f"cannot read checkpoint {checkpoint}: {type(err).__name__}: {str(err)[:300]}") from None
        if "hyper_parameters" not in ckpt or "state_dict" not in ckpt:
            raise DataError(f"{checkpoint} is not a vit_bert training checkpoint (no hyper_parameters/state_dict)")
        # LightningCLI adds bookkeeping keys (_instantiator, _class_path): keep only the task's own arguments.
        accepted = inspect.signature(ClassificationTask.__init__).parameters
        hparams = {k: v for k, v in ckpt["hyper_parameters"].items() if k in accepted}
        hparams["compile"] = False
        self.task = ClassificationTask(**hparams)
        self.task.load_state_dict(ckpt["state_dict"])
        self.task.eval().to(device)
        self.device = device
        self.info = hparams["data_info"]
        self.class_names = self.info["class_names"]
        if self.info["modality"] == "text":
            from tokenizers import Tokenizer

            state = ckpt.get("TextDataModule", {})
            self.text = TextEncoder(Tokenizer.from_str(state["tokenizer"]), state.get("max_length", 128))
        else:
            self.transform = BatchTransform(self.info["mean"], self.info["std"], self.info["image_size"])

    def _images(self, paths: list[Path]) -> dict:
        images = []
        for path in paths:
            try:
                images.append(decode_file(path, self.info["image_size"], self.info["in_chans"]))
            except Exception as err:
                raise DataError(f"cannot read image {path} ({err})") from None
        return {"images": self.transform(torch.stack(images).to(self.device), train=False)}

    def _texts(self, texts: list[str]) -> dict:
        ids, _ = self.text.encode(texts)
        return {k: v.to(self.device) for k, v in self.text.collate(ids).items()}

    @torch.inference_mode()
    def __call__(self, inputs: list) -> list[tuple[str, float]]:
        batch = self._texts(inputs) if self.info["modality"] == "text" else self._images(inputs)
        probs = self.task(**batch).float().softmax(dim=-1)
        best = probs.max(dim=-1)
        return [(self.class_names[i], p) for i, p in zip(best.indices.tolist(), best.values.tolist())]


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
    parser.add_argument("checkpoint", help="a .ckpt written by train.py")
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
