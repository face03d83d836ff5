"""Classify new inputs with a trained model.

    python train.py predict CHECKPOINT photo.jpg more_photos/        # images: files or folders
    python train.py predict CHECKPOINT "a gripping film" reviews.txt   # text: sentences or .txt files (one per line)
    python train.py predict COTRAINED photo.jpg "a gripping film"      # a co-trained model: each input to its modality's task, task by task
    vit-bert predict CHECKPOINT ...                                   # the same

Prints one line per input: the input, the predicted label and its probability.
A train.py checkpoint or a save_pretrained folder is enough: its data contract holds the class
names, the image size and normalisation, and (text) the tokenizer and max_length. Weights from
elsewhere (a timm file, a preset) do not say how images were normalised: pass --mean and --std.
A co-trained (multi-task) model sends images to its image task and text to its text task; ``--task``
chooses when several tasks read the same modality.
(This is vit_bert's predict; Lightning's predict loop over a data module is not used.)
"""

from __future__ import annotations

from pathlib import Path

import torch

from .config import DataContract
from .data.augment import BatchTransform
from .data.image_reading import DEFAULT_MAX_PIXELS, IMAGE_SUFFIXES, open_image
from .data.image_transforms import eval_crop
from .data.text_files import read_utf8, text_lines
from .errors import ConfigError, DataError, SourceNotFoundError
from .model import TransformerClassifier, build_model
from .multitask import MultiTaskModel
from .presets import PRESETS
from .typed_command import run_typed
from .tokenizer import TextTokenizer, load_tokenizer
from .weights.load import PretrainedTasks, build_from_pretrained, build_multitask_from_pretrained, read_pretrained


class InputReader:
    """A model source -> (image files or sentences -> the model's keyword inputs), read as its data says.

    ``source``: a train.py checkpoint or save_pretrained folder (which carry their data contract), anything
    else ``load_pretrained`` reads, or a preset name (random weights, normalised with mean = std = 0.5).
    ``model``: an already loaded model (a co-trained model's ``task_model(name)``); ``source`` then only names it.
    Files are read with safetensors or ``weights_only=True``: no code runs from them. ``tokenizer`` (a
    tokenizer.json / vocab.txt / folder) is for text models that carry none; ``mean``/``std`` for image
    models whose source does not say how images were normalised. Images are read safely (``data.image_reading``:
    at most ``max_image_pixels``) and resized and cropped by the source's data config. Any head: the attention views read
    masked-token models too; ``Predictor`` is the one that needs a classifier."""

    def __init__(
        self, source: str | Path, device: str = "cpu", tokenizer: str | Path | None = None,
        mean: list[float] | None = None, std: list[float] | None = None, max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
        *, model: TransformerClassifier | None = None,
    ):
        self.source = str(source)
        self.max_image_pixels = max_image_pixels
        preset = isinstance(source, str) and source in PRESETS
        self.model = model if model is not None else build_model(source) if preset else build_from_pretrained(read_pretrained(source))
        if preset:
            mean, std = mean or [0.5] * self.model.config.in_chans, std or [0.5] * self.model.config.in_chans
        config, contract = self.model.config, self.model.data_contract
        self.check_head()
        self.model.eval().to(device)
        self.device = device
        self.modality = config.modality
        self.class_names = self.model.class_names or [str(i) for i in range(config.num_classes)]
        if self.modality == "text":
            found = load_tokenizer(tokenizer) if tokenizer else self.model.tokenizer
            if found is None:
                raise DataError(f"{source} carries no tokenizer; pass one (a tokenizer.json, vocab.txt, vocab.json or a folder with one)")
            self.text = TextTokenizer(found, contract.max_length if contract is not None else config.max_len)
            return
        self.image_size, self.in_chans = config.img_size, config.in_chans
        if contract is not None and mean is None and std is None:
            mean, std = contract.mean, contract.std
        if mean is None or std is None:
            raise DataError(
                f"{source} does not say how its images were normalised (it was not trained by vit_bert); pass the "
                f"per-channel mean and std of its training data, e.g. --mean 0.485 0.456 0.406 --std 0.229 0.224 0.225 for ImageNet"
            )
        # The source's own eval protocol (resize, crop, filter); weights that record none: the center square, bilinear
        crop = ({"crop_pct": contract.crop_pct, "crop_mode": contract.crop_mode, "interpolation": contract.interpolation}
                if contract is not None else {"crop_pct": 1.0})
        read_as = DataContract("image", self.class_names, in_chans=self.in_chans, img_size=self.image_size, mean=mean, std=std, **crop)
        self.crop = eval_crop(read_as)
        self.transform = BatchTransform(mean, std, self.image_size)

    def check_head(self) -> None:
        """Any head reads inputs."""

    def read_images(self, paths: list[Path]) -> torch.Tensor:
        """Image files -> (B, C, S, S) uint8 at the model's input size, resized and cropped as the model's data config says."""
        return torch.stack([self.crop(open_image(path, self.in_chans, self.max_image_pixels, "--max_image_pixels")) for path in paths])

    def batch(self, inputs: list | torch.Tensor) -> dict[str, torch.Tensor]:
        """Image paths (or already read uint8 images) or sentences -> the model's keyword inputs, on the device."""
        if self.modality == "image":
            images = inputs if isinstance(inputs, torch.Tensor) else self.read_images(inputs)
            return {"images": self.transform(images.to(self.device), train=False)}
        ids, _ = self.text.encode(inputs)
        return {k: v.to(self.device) for k, v in self.text.collate(ids).items()}


class Predictor(InputReader):
    """A model source -> (inputs -> (label, probability)); the source as ``InputReader`` takes it, with a classifier head."""

    def check_head(self) -> None:
        head = self.model.config.head
        if head != "classifier":
            raise ConfigError(
                f"{self.source} is a masked-token model (head={head!r}): it has no classifier to predict labels with; "
                f"fine-tune it first (train.py --model.pretrained {self.source})"
            )

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
            if on_disk(path.is_dir):
                out += sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
            elif on_disk(path.is_file):
                out.append(path)
            else:
                raise SourceNotFoundError(f"image {item} does not exist")
        elif path.suffix == ".txt" and on_disk(path.is_file):
            out += [line for line in text_lines(read_utf8(path)) if line.strip()]
        elif looks_like_image(item):  # never classify a file name as if it were a sentence
            raise DataError(f"{item!r} is {'a folder' if on_disk(path.is_dir) else 'an image file name'}, but this model reads text; "
                            "give it sentences or .txt files (one sentence per line), or use an image model")
        else:
            out.append(item)
    if not out:
        raise DataError("no inputs to classify (empty folder or file?)")
    return out


def predict(
    source: str, inputs: list[str], batch_size: int = 64, device: str | None = None, tokenizer: str | None = None,
    mean: list[float] | None = None, std: list[float] | None = None, task: str | None = None,
    max_image_pixels: int | None = DEFAULT_MAX_PIXELS,
) -> None:
    """Classify images or sentences; print one line per input: the input, the predicted label, its probability.

    Args:
        source: A .ckpt written by vit-bert fit, a save_pretrained folder, or other weights (see load_pretrained).
        inputs: Image files or folders, or sentences or .txt files (one sentence per line).
        batch_size: How many inputs go through the model at once.
        device: cpu or cuda (default: cuda when there is one).
        tokenizer: tokenizer.json, vocab.txt, vocab.json (merges.txt beside it) or a folder, for text models that carry none.
        mean: Per-channel mean, for image weights trained outside vit_bert: [0.485,0.456,0.406].
        std: Per-channel std, with mean.
        task: A co-trained model's task to use (default: the one task of each input's modality).
        max_image_pixels: Larger images (width x height, read from the file's header) are refused before decoding; null: no limit.
    """
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    for predictor, raw in predictors(source, inputs, task, device, tokenizer, mean, std, max_image_pixels):
        items = expand_inputs(raw, predictor.modality)
        for start in range(0, len(items), batch_size):
            chunk = items[start : start + batch_size]
            for item, (label, prob) in zip(chunk, predictor(chunk)):
                print(f"{item}\t{label}\t{prob:.4f}")


def load_source(source: str) -> TransformerClassifier | MultiTaskModel:
    """A source name -> its model: a preset (random weights), a co-trained checkpoint, or anything ``load_pretrained`` reads."""
    if source in PRESETS:
        return build_model(source)
    pretrained = read_pretrained(source)
    return build_multitask_from_pretrained(pretrained) if isinstance(pretrained, PretrainedTasks) else build_from_pretrained(pretrained)


def predictors(
    source: str, inputs: list[str], task: str | None, *options, model: TransformerClassifier | MultiTaskModel | None = None,
) -> list[tuple[Predictor, list[str]]]:
    """(Predictor, its inputs) pairs: one for a single-task model; for a co-trained model one per task the
    inputs go to (``route_inputs``). ``model``: ``source``'s model when it is already loaded.
    ``options``: Predictor's device, tokenizer, mean, std, max_image_pixels."""
    return per_task(Predictor, source, inputs, task, options, model)


def input_readers(
    source: str, inputs: list[str], task: str | None, *options, model: TransformerClassifier | MultiTaskModel | None = None,
) -> list[tuple[InputReader, list[str]]]:
    """As ``predictors``, for what reads a model's inputs without predicting labels (the attention views): a
    masked-token model is read too."""
    return per_task(InputReader, source, inputs, task, options, model)


def per_task(reader: type[InputReader], source: str, inputs: list[str], task: str | None, options: tuple, model) -> list:
    """(``reader`` of the model or of each task the inputs go to, its inputs) pairs."""
    model = load_source(source) if model is None else model
    if not isinstance(model, MultiTaskModel):
        if task:
            raise ConfigError(f"--task {task}: {source} is a single-task model; --task is for co-trained models")
        return [(reader(source, *options, model=model), inputs)]
    return [(reader(f"{source} (task {name})", *options, model=model.task_model(name)), items)
            for name, items in route_inputs(model, inputs, task).items()]


def looks_like_image(item: str) -> bool:
    path = Path(item)
    return path.suffix.lower() in IMAGE_SUFFIXES or on_disk(path.is_dir)


def on_disk(test) -> bool:
    """``path.is_dir`` or ``path.is_file`` called; False for a sentence too long to be a file name (``stat`` raises)."""
    try:
        return test()
    except OSError:
        return False


def route_inputs(model: MultiTaskModel, inputs: list[str], task: str | None) -> dict[str, list[str]]:
    """Inputs -> {task: its inputs}: ``task`` takes them all, else each goes to the one task of its modality."""
    if task is not None:
        model.task_config(task)  # an unknown name stops here, with the known ones
        return {task: inputs}
    routed: dict[str, list[str]] = {}
    for item in inputs:
        modality = "image" if looks_like_image(item) else "text"
        candidates = [name for name in model.tasks if model.modality(name) == modality]
        if not candidates:
            raise ConfigError(f"{item!r} reads as {modality}, but the model's tasks ({', '.join(model.tasks)}) read none")
        if len(candidates) > 1:
            raise ConfigError(f"tasks {', '.join(candidates)} all read {modality}; choose one with --task")
        routed.setdefault(candidates[0], []).append(item)
    return routed


def main(argv: list[str] | None = None) -> None:
    run_typed(predict, argv, prog="vit-bert predict")
