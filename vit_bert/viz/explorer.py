"""Inputs -> the attention explorer: the model run on each input, one panel per input.

    explore(model_or_source, *inputs, task=None, ...) -> Explorer     (in a notebook, the cell shows it)
        model_or_source: a model (TransformerClassifier or co-trained MultiTaskModel), or any source ``viz`` takes
        inputs: image files and/or sentences; a co-trained model sends each to the task of its modality
    input_panels(source, inputs, model=None, ...) -> [panel_data per input]   (the served page: its model loaded once)
    read_input(reader, item) -> (batch, image (H, W, C) uint8 or None, tokens or None)

    from vit_bert.viz import explore
    explore("runs/quickstart/version_0/checkpoints/best.ckpt", "digit.png").save("digit.html")
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from ..errors import ConfigError
from ..predict import InputReader, expand_inputs, input_readers
from .page import Explorer
from .page_data import panel_data


def read_input(reader: InputReader, item: str | Path) -> tuple[dict[str, torch.Tensor], np.ndarray | None, list[str] | None]:
    """One image file or sentence (as ``expand_inputs`` gives them) -> the model's batch of one, with the picture
    or the tokens it read."""
    if reader.modality == "image":
        pixels = reader.read_images([Path(item)])  # read once: shown as is, and fed to the model
        return reader.batch(pixels), pixels[0].permute(1, 2, 0).numpy(), None
    batch = reader.batch([str(item)])
    return batch, None, reader.text.tokens(batch["input_ids"][0].tolist())


def explore(
    model_or_source, *inputs: str | Path, task: str | None = None, tokenizer: str | None = None,
    mean: list[float] | None = None, std: list[float] | None = None, layer: int = -1, steps_layers: list[int] | None = None,
) -> Explorer:
    """The explorer page for ``inputs``; ``layer``: the layer shown first; ``steps_layers``: the layers whose
    step-by-step arithmetic the page carries (default: all when they fit in a few MB, else ``layer``)."""
    model = None if isinstance(model_or_source, (str, Path)) else model_or_source
    source = type(model).__name__ if model is not None else str(model_or_source)
    return Explorer(input_panels(source, inputs, model=model, task=task, options=("cpu", tokenizer, mean, std),
                                 layer=layer, steps_layers=steps_layers))


def input_panels(source: str, inputs, *, model=None, task=None, options=(), layer: int = -1, steps_layers=None) -> list[dict]:
    """One ``panel_data`` per input; ``model``: ``source``'s model when it is already loaded; ``options``: InputReader's."""
    if not inputs:
        raise ConfigError("explore needs at least one input: an image file or a sentence")
    panels = []
    for reader, items in input_readers(source, [str(i) for i in inputs], task, *options, model=model):
        for item in expand_inputs(items, reader.modality):  # folders and .txt files opened; an image path never read as text
            batch, image, tokens = read_input(reader, item)
            title = f"{Path(item).name if image is not None else repr(item)} through {reader.source}"
            panels.append(panel_data(reader.model, batch, title, tokens=tokens, image=image, class_names=reader.class_names,
                                     steps_layers=steps_layers, shown_layer=layer))
    return panels
