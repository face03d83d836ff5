"""python -m vit_bert.viz SOURCE INPUT... [--out PNG | --html PAGE] [--layer L] [--trace] [--head H]   (or: vit-bert viz ...)

    python -m vit_bert.viz runs/quickstart/version_0/checkpoints/last.ckpt digit.png --out digit_attention.png
    python -m vit_bert.viz runs/sst2_bert/version_0/checkpoints/last.ckpt "a gripping , funny film" --trace
    python -m vit_bert.viz vit-ti/16 photo.jpg              # a preset: random weights
    vit-bert viz COTRAINED.ckpt photo.png "a gripping film" --html page.html   # the interactive page, both side by side

SOURCE: a train.py checkpoint, a save_pretrained / Hugging Face BERT folder, a timm ViT file, or a
preset name. INPUT: an image file (image models) or a sentence (text models).
Writes the figure (predicted class and probability in its title); with --trace also prints the
step-by-step self-attention of one layer and head, checked against the model's own forward.
With --html, writes one self-contained page instead: every layer and head, the arithmetic of a clicked
token, the prediction; it opens from disk with no network (vit_bert.viz.page).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..errors import ConfigError
from ..predict import expand_inputs, input_readers
from ..typed_command import run_typed
from .explorer import explore, read_input
from .trace import trace_layer as print_trace
from .view import attention_view, prediction_title, view_figure


def viz(
    source: str, inputs: list[str], out: str = "attention.png", html: str | None = None, layer: int = -1, trace: bool = False,
    trace_layer: int = 0, head: int = 0, steps_layers: list[int] | None = None, tokenizer: str | None = None,
    mean: list[float] | None = None, std: list[float] | None = None, dpi: int = 100, task: str | None = None,
) -> None:
    """Draw a model's attention for an input as a PNG, or write the interactive explorer page (--html).

    Args:
        source: A checkpoint, model folder, weights file or preset name.
        inputs: An image file, or a sentence for text models; with --html one or more (a co-trained model: both kinds).
        out: The PNG to write (one input).
        html: Write this self-contained HTML page instead of a PNG: every layer and head, clickable, offline.
        layer: The layer drawn (-1: the last); on the page, the layer shown first.
        trace: Print the step-by-step self-attention of one layer and head.
        trace_layer: The layer to trace.
        head: The head to trace.
        steps_layers: The layers whose step-by-step arithmetic the page carries (default: all that fit in 4 MB, else --layer).
        tokenizer: tokenizer.json, vocab.txt, vocab.json (merges.txt beside it) or a folder, for text models that carry none.
        mean: Per-channel mean, for image weights trained outside vit_bert: [0.485,0.456,0.406].
        std: Per-channel std, with mean.
        dpi: The figure's resolution.
        task: A co-trained model's task to draw (default: the one task of each input's modality).
    """
    if html is not None:
        if trace:
            raise ConfigError("--trace prints the arithmetic beside a PNG figure; the --html page has it in its step-by-step panel")
        started = time.perf_counter()
        page = explore(source, *inputs, task=task, tokenizer=tokenizer, mean=mean, std=std, layer=layer, steps_layers=steps_layers)
        written = page.save(html)
        print(f"wrote {written}: {len(page.panels)} input(s), {written.stat().st_size / 1e6:.1f} MB in {time.perf_counter() - started:.1f} s")
        return
    items = [(reader, item) for reader, routed in input_readers(source, inputs, task, "cpu", tokenizer, mean, std)
             for item in expand_inputs(routed, reader.modality)]
    if len(items) != 1:
        raise ConfigError(f"a PNG figure shows one input; got {len(items)}; pass --html page.html to see several side by side")
    [(reader, item)] = items
    batch, image, tokens = read_input(reader, item)
    view = attention_view(reader.model, batch)
    title = prediction_title(view, reader.class_names)
    figure = view_figure(view, layer, title, None if image is None else image.astype(np.float32) / 255, tokens)
    if trace:
        print_trace(reader.model, batch, trace_layer, head, tokens=tokens)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    print(f"{title}; wrote {out}")


def main(argv: list[str] | None = None) -> None:
    run_typed(viz, argv, prog="python -m vit_bert.viz")


if __name__ == "__main__":
    main()
