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

import argparse
from pathlib import Path

from ..errors import SourceNotFoundError, run_command
from ..predict import predictors
from .trace import trace_layer
from .view import attention_view, prediction_title, view_figure


def viz(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="vit-bert viz", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", help="checkpoint, model folder, weights file or preset name")
    parser.add_argument("input", help="an image file, or a sentence for text models")
    parser.add_argument("--out", default="attention.png", help="PNG to write (default: attention.png)")
    parser.add_argument("--layer", type=int, default=-1, help="layer whose heads are drawn (default: -1, the last)")
    parser.add_argument("--trace", action="store_true", help="print the step-by-step self-attention of one layer and head")
    parser.add_argument("--trace_layer", type=int, default=0, help="layer to trace (default: 0)")
    parser.add_argument("--head", type=int, default=0, help="head to trace (default: 0)")
    parser.add_argument("--tokenizer", help="tokenizer.json / vocab.txt / folder, for text models that carry none")
    parser.add_argument("--mean", type=float, nargs="+", help="per-channel mean, for image weights trained outside vit_bert")
    parser.add_argument("--std", type=float, nargs="+", help="per-channel std, with --mean")
    parser.add_argument("--dpi", type=int, default=100)
    parser.add_argument("--task", help="a co-trained model's task to draw (default: the one task of the input's modality)")
    args = parser.parse_args(argv)
    [(predictor, _)] = predictors(args.source, [args.input], args.task, "cpu", args.tokenizer, args.mean, args.std)
    image = tokens = None
    if predictor.modality == "image":
        if not Path(args.input).is_file():
            raise SourceNotFoundError(f"image {args.input} does not exist")
        pixels = predictor.read_images([Path(args.input)])  # read once: shown as is, and fed to the model
        image = pixels[0].permute(1, 2, 0).float().div(255).numpy()
        batch = predictor.batch(pixels)
    else:
        batch = predictor.batch([args.input])
        tokens = predictor.text.tokens(batch["input_ids"][0].tolist())
    view = attention_view(predictor.model, batch)
    title = prediction_title(view, predictor.class_names)
    figure = view_figure(view, args.layer, title, image, tokens)
    if args.trace:
        trace_layer(predictor.model, batch, args.trace_layer, args.head, tokens=tokens)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(args.out, dpi=args.dpi)
    print(f"{title}; wrote {args.out}")


def main(argv: list[str] | None = None) -> None:
    run_command(viz, argv)


if __name__ == "__main__":
    main()
