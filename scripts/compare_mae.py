"""MAE-style masked-image pretraining for a fixed wall-clock budget, to compare with the library's SimMIM.

The library pretrains images SimMIM's way (configs/mim_pretrain.yaml): every patch goes through the
encoder, masked ones as a learned mask token. MAE instead encodes the visible patches only (25 %
at its mask ratio of 0.75) and lets a small decoder, which sees mask tokens at the hidden places,
predict their pixels. This script pretrains the same model MAE's way, from the library's pieces,
for the same budget and data, and saves a vit_bert folder that fine-tunes as the SimMIM checkpoint does:

    python scripts/compare_mae.py --root path/to/cifar10_jpeg --minutes 4.83 --out runs/mae_pre
    python train.py --config configs/cifar10_cpu_10min.yaml --data.dataset folder --data.root path/to/cifar10_jpeg \\
        --model.pretrained runs/mae_pre

Images (B, 3, 32, 32) -> 64 patch tokens; the encoder sees [CLS] + 16 of them; the decoder (one
Block of the encoder's width, fixed sin-cos positions) sees [CLS] + 64 and predicts (B, 64, 48) pixels.
"""

from __future__ import annotations

import argparse
import math
import time

import torch
import torch.nn.functional as F
from torch import nn

from vit_bert import build_model
from vit_bert.data import ImageDataModule
from vit_bert.layers import Block, sincos_2d
from vit_bert.training.masked import normalised_patches
from vit_bert.training.masking import mask_patches, masked_patch_count
from vit_bert.training.optim import param_groups

MODEL = dict(img_size=32, patch_size=4, dim=128, depth=2, heads=4, mlp_ratio=2.0, stem="conv", num_classes=0)  # the 10-min recipe's


class MaeDecoder(nn.Module):
    """Encoded [CLS] + visible tokens (B, 1 + K, D), kept patch indices (B, K) -> pixels of all patches (B, N, P * P * C)."""

    def __init__(self, dim: int, heads: int, grid: tuple[int, int], patch_pixels: int):
        super().__init__()
        self.mask_token = nn.Parameter(torch.randn(1, 1, dim) * 0.02)
        self.block = Block(dim, heads, mlp_ratio=2.0)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.proj = nn.Linear(dim, patch_pixels)
        self.register_buffer("positions", torch.cat([torch.zeros(1, dim), sincos_2d(grid, dim)])[None], persistent=False)

    def forward(self, encoded: torch.Tensor, kept: torch.Tensor, patches: int) -> torch.Tensor:
        batch, _, dim = encoded.shape
        full = self.mask_token.expand(batch, patches, dim).clone()
        full.scatter_(1, kept[..., None].expand(-1, -1, dim), encoded[:, 1:])
        tokens = torch.cat([encoded[:, :1], full], dim=1) + self.positions
        return self.proj(self.norm(self.block(tokens)))[:, 1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="an ImageFolder tree with train/ and test/ (CIFAR-10 as JPEG)")
    parser.add_argument("--minutes", type=float, default=4.83)
    parser.add_argument("--mask_ratio", type=float, default=0.75)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    torch.manual_seed(0)
    data = ImageDataModule("folder", args.root, batch_size=64, val_fraction=0.02, crop_padding=0, hflip=True)
    data.setup("fit")
    model = build_model("vit-cifar/4", **MODEL)
    grid = model.frontend.grid
    patches, prefix = grid[0] * grid[1], model.frontend.num_prefix_tokens
    masked_count = masked_patch_count(patches, args.mask_ratio)
    decoder = MaeDecoder(MODEL["dim"], MODEL["heads"], grid, MODEL["patch_size"] ** 2 * 3)
    parameters = param_groups(model, 0.05) + [{"params": list(decoder.parameters()), "weight_decay": 0.0}]
    optimizer = torch.optim.AdamW(parameters, lr=args.lr)
    budget, start, steps, losses = args.minutes * 60, time.perf_counter(), 0, []
    while time.perf_counter() - start < budget:
        for batch in data.train_dataloader():
            done = (time.perf_counter() - start) / budget
            if done >= 1:
                break
            for group in optimizer.param_groups:  # linear warmup over 5 % of the budget, then cosine to 0
                group["lr"] = args.lr * (done / 0.05 if done < 0.05 else 0.5 * (1 + math.cos(math.pi * (done - 0.05) / 0.95)))
            images = data.prepare_batch(batch, training=True)["images"]
            masked = mask_patches(len(images), patches, masked_count)
            kept = (~masked).nonzero()[:, 1].reshape(len(images), patches - masked_count)  # (B, K), ascending
            tokens, _ = model.frontend(images)
            visible = torch.cat([tokens[:, :prefix], tokens[:, prefix:].gather(1, kept[..., None].expand(-1, -1, tokens.shape[-1]))], 1)
            predicted = decoder(model.encoder(visible), kept, patches)
            loss = F.l1_loss(predicted[masked], normalised_patches(images, MODEL["patch_size"])[masked])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            steps, losses = steps + 1, (losses + [loss.item()])[-100:]
    seconds = time.perf_counter() - start
    print(f"MAE pretraining: {steps} steps ({steps * 64 / seconds:.0f} images/s) in {seconds:.0f} s; "
          f"pixel loss (L1, masked patches, last 100 steps) {sum(losses) / len(losses):.4f}")
    model.save_pretrained(args.out)
    print(f"saved {args.out}")


if __name__ == "__main__":
    main()
