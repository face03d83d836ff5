"""Coverage-guided fuzzing of vit_bert's readers (atheris, libFuzzer): every outcome must be a result or a VitBertError.

    pip install atheris
    python scripts/fuzz_readers.py image --seconds 120     # the image reader on mutated PNG / JPEG / GIF / WebP bytes
    python scripts/fuzz_readers.py text --seconds 120      # the TSV / CSV / JSONL / TXT readers
    python scripts/fuzz_readers.py folder --seconds 120    # load_pretrained on a folder with a mutated config.json or safetensors
    python scripts/fuzz_readers.py checkpoint --seconds 120   # load_pretrained on a mutated train.py checkpoint (a torch zip)
    python scripts/fuzz_readers.py explore --seconds 120   # the explorer's POST handler on mutated uploads

libFuzzer mutates the seeds toward new code paths. An outcome that is neither a result nor a one-line VitBertError is
counted, its exception kept, and the run goes on. At the end one line: executions, those outcomes, and the first few.
Exit code 1 when there were any. (The fast test tier runs the same properties with hypothesis: tests/test_fuzz_readers.py.)
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

import atheris

with atheris.instrument_imports(include=["vit_bert"]):
    import vit_bert
    from vit_bert.data.image_reading import open_image
    from vit_bert.data.text_files import read_file
    from vit_bert.errors import VitBertError

STATE = {"runs": 0, "bad": collections.Counter(), "examples": [], "until": float("inf")}


def checked(call) -> None:
    """Run one input; past the time budget, report and end the process (libFuzzer's own exit skips Python's atexit)."""
    if time.monotonic() > STATE["until"]:
        report()
        os._exit(1 if STATE["bad"] else 0)
    STATE["runs"] += 1
    try:
        call()
    except VitBertError as err:
        if "\n" in str(err):
            STATE["bad"]["multi-line VitBertError"] += 1
    except Exception as err:  # noqa: BLE001 (what this script counts)
        STATE["bad"][type(err).__name__] += 1
        if len(STATE["examples"]) < 5:
            STATE["examples"].append(f"{type(err).__name__}: {str(err)[:160]}")


def report() -> None:
    bad = sum(STATE["bad"].values())
    print(f"{STATE['runs']} executions; {bad} outcomes neither a result nor a one-line VitBertError {dict(STATE['bad'])}", flush=True)
    for example in STATE["examples"]:
        print("  " + example, flush=True)


def image_seeds(folder: Path) -> None:
    from PIL import Image
    import numpy as np

    pixels = np.random.default_rng(0).integers(0, 255, (20, 24, 3), dtype=np.uint8)
    for kind in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"):
        Image.fromarray(pixels).save(folder / f"seed.{kind.lower()}", format=kind)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("reader", choices=["image", "text", "folder", "checkpoint", "explore"])
    parser.add_argument("--seconds", type=int, default=60)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    corpus = work / "corpus"
    corpus.mkdir()
    if args.reader in ("image", "explore"):
        image_seeds(corpus)
    if args.reader == "image":
        target = lambda data: checked(lambda: open_image(data))  # noqa: E731
    elif args.reader == "text":
        (corpus / "seed.tsv").write_bytes(b'text\tlabel\na good film\tpos\n"quoted" one\tneg\n')
        (corpus / "seed.jsonl").write_bytes(b'{"text": "a good film", "label": 1}\n{"text": "bad", "label": 0}\n')

        def target(data: bytes) -> None:
            suffix = (".tsv", ".csv", ".jsonl", ".txt")[data[0] % 4] if data else ".tsv"
            path = work / f"train{suffix}"
            path.write_bytes(data[1:])
            checked(lambda: read_file(path, "text", "label"))
    elif args.reader == "folder":
        vit_bert.build_model("vit-ti/16", num_classes=2, depth=1, dim=24, heads=2, img_size=32).save_pretrained(work / "seed")
        files = {name: (work / "seed" / name).read_bytes() for name in ("config.json", "model.safetensors")}
        (corpus / "seed_config").write_bytes(b"\x00" + files["config.json"])
        (corpus / "seed_weights").write_bytes(b"\x01" + files["model.safetensors"][:4096])
        (work / "model").mkdir()

        def target(data: bytes) -> None:
            name = "config.json" if not data or data[0] % 2 == 0 else "model.safetensors"
            for other, content in files.items():
                (work / "model" / other).write_bytes(data[1:] if other == name else content)
            checked(lambda: vit_bert.load_pretrained(work / "model"))
    elif args.reader == "checkpoint":
        import torch

        config = vit_bert.build_model("vit-ti/16", num_classes=2, depth=1, dim=24, heads=2, img_size=32).config.to_dict()
        torch.save({"state_dict": {"model.x": torch.zeros(2)}, "vit_bert_model_config": config}, corpus / "seed.ckpt")

        def target(data: bytes) -> None:
            (work / "fuzzed.ckpt").write_bytes(data)
            checked(lambda: vit_bert.load_pretrained(work / "fuzzed.ckpt"))
    else:
        from vit_bert.viz.server import ExplorerServer

        vit_bert.build_model("vit-ti/16", num_classes=2, depth=1, dim=24, heads=2, img_size=32).save_pretrained(work / "vit")
        server = ExplorerServer(str(work / "vit"), 0, 100_000, task=None, options=("cpu", None, [0.5] * 3, [0.5] * 3), layer=-1,
                                steps_layers=None)
        kinds = ("image/png", "image/jpeg", "image/gif", "image/webp", "text/plain", "")
        target = lambda data: checked(lambda: server.panels(data[1:], kinds[data[0] % len(kinds)] if data else ""))  # noqa: E731
    STATE["until"] = time.monotonic() + args.seconds
    atheris.Setup([sys.argv[0], str(corpus), "-rss_limit_mb=8192", "-timeout=20"], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
