"""python -m vit_bert.viz SOURCE INPUT [--out PNG] [--layer L] [--trace] [--head H]   (or: vit-bert viz ...)

    python -m vit_bert.viz runs/quickstart/version_0/checkpoints/last.ckpt digit.png --out digit_attention.png
    python -m vit_bert.viz runs/sst2_bert/version_0/checkpoints/last.ckpt "a gripping , funny film" --trace
    python -m vit_bert.viz vit-ti/16 photo.jpg              # a preset: random weights

SOURCE: a train.py checkpoint, a save_pretrained / Hugging Face BERT folder, a timm ViT file, or a
preset name. INPUT: an image file (image models) or a sentence (text models).
Writes the figure (predicted class and probability in its title); with --trace also prints the
step-by-step self-attention of one layer and head, checked against the model's own forward.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SourceNotFoundError
from ..predict import predictors
from ..typed_command import run_typed
from .trace import trace_layer as print_trace
from .view import attention_view, prediction_title, view_figure


def viz(
    source: str, input: str, out: str = "attention.png", layer: int = -1, trace: bool = False, trace_layer: int = 0, head: int = 0,
    tokenizer: str | None = None, mean: list[float] | None = None, std: list[float] | None = None, dpi: int = 100,
    task: str | None = None,
) -> None:
    """Draw a model's attention for one input, and trace one head.

    Args:
        source: A checkpoint, model folder, weights file or preset name.
        input: An image file, or a sentence for text models.
        out: The PNG to write.
        layer: The layer whose heads are drawn (-1: the last).
        trace: Print the step-by-step self-attention of one layer and head.
        trace_layer: The layer to trace.
        head: The head to trace.
        tokenizer: tokenizer.json, vocab.txt or a folder, for text models that carry none.
        mean: Per-channel mean, for image weights trained outside vit_bert: [0.485,0.456,0.406].
        std: Per-channel std, with mean.
        dpi: The figure's resolution.
        task: A co-trained model's task to draw (default: the one task of the input's modality).
    """
    [(predictor, _)] = predictors(source, [input], task, "cpu", tokenizer, mean, std)
    image = tokens = None
    if predictor.modality == "image":
        if not Path(input).is_file():
            raise SourceNotFoundError(f"image {input} does not exist")
        pixels = predictor.read_images([Path(input)])  # read once: shown as is, and fed to the model
        image = pixels[0].permute(1, 2, 0).float().div(255).numpy()
        batch = predictor.batch(pixels)
    else:
        batch = predictor.batch([input])
        tokens = predictor.text.tokens(batch["input_ids"][0].tolist())
    view = attention_view(predictor.model, batch)
    title = prediction_title(view, predictor.class_names)
    figure = view_figure(view, layer, title, image, tokens)
    if trace:
        print_trace(predictor.model, batch, trace_layer, head, tokens=tokens)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    print(f"{title}; wrote {out}")


def main(argv: list[str] | None = None) -> None:
    run_typed(viz, argv, prog="python -m vit_bert.viz")


if __name__ == "__main__":
    main()
