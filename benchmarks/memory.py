"""Activation checkpointing: peak training memory with and without it, and that gradients stay identical.

    python benchmarks/memory.py                          # ViT-B/16, 224, batch 32, CPU fp32 (~2 min on 2 cores)
    python benchmarks/memory.py --device cuda --precision bf16

One training step (forward, loss, backward) of the same weights on the same batch, once with
``grad_checkpointing=False`` and once with ``True``. Peak memory is what the step allocates on top
of the weights (CUDA: the allocator's peak; CPU: torch.profiler's allocation events, see speed.py).
Dropout and stochastic depth are off, so the two gradients must agree exactly.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))
import vit_bert  # noqa: E402
from speed import DTYPES, peak_step_memory  # noqa: E402


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="vit-b/16")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32", choices=list(DTYPES))
    parser.add_argument("--json", default="benchmarks/results/memory.json")
    args = parser.parse_args(argv)
    device, dtype = torch.device(args.device), DTYPES[args.precision]
    torch.manual_seed(0)
    model = vit_bert.build_model(args.preset).to(device)
    config = model.config
    images = torch.randn(args.batch, config.in_chans, config.img_size, config.img_size, device=device)
    labels = torch.randint(0, config.num_classes, (args.batch,), device=device)
    results, grads = {}, {}
    for checkpointing in (False, True):
        model.encoder.grad_checkpointing = checkpointing
        model.train()

        def step():
            with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
                loss = F.cross_entropy(model(images).float(), labels)
            loss.backward()

        model.zero_grad(set_to_none=True)
        peak = peak_step_memory(step, device)
        grads[checkpointing] = {name: p.grad.detach().clone() for name, p in model.named_parameters()}
        results["with" if checkpointing else "without"] = peak / 2**20
        print(f"{args.preset} batch {args.batch} {args.precision} grad_checkpointing={checkpointing}: peak {peak / 2**20:.0f} MB", flush=True)
    weights = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
    totals = {k: v + 3 * weights for k, v in results.items()}  # + weights + AdamW's two moments
    print(f"with the {weights:.0f} MB of weights and 2 x {weights:.0f} MB of AdamW state: "
          f"{totals['without']:.0f} MB -> {totals['with']:.0f} MB ({totals['with'] / totals['without']:.1%})")
    difference = max(float((grads[True][k] - grads[False][k]).abs().max()) for k in grads[True])
    ratio = results["with"] / results["without"]
    print(f"checkpointing keeps {ratio:.1%} of the peak ({1 / ratio:.2f}x less); max |gradient difference| = {difference:.2e}")
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({**vars(args), "peak_mb": results, "total_with_adamw_mb": totals, "ratio": ratio, "max_grad_difference": difference}, indent=2))


if __name__ == "__main__":
    main()
