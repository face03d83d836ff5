"""What masked-token pretraining hides, drawn for a whole batch at once on the batch's device.

    mask_tokens(ids (B, T), attention_mask (B, T), ...) -> corrupted ids (B, T), chosen (B, T) bool
        BERT: each real token that is not special is chosen with probability p; of the chosen,
        80 % become [MASK], 10 % a random token and 10 % stay.
    mask_patches(batch, patches, count) -> masked (B, N) bool, exactly ``count`` True per row
        MAE: a uniformly random subset of each image's patches.
"""

from __future__ import annotations

import torch

from ..errors import ConfigError, DataError


def mask_tokens(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: torch.Tensor, mask_id: int, vocab_size: int,
    mask_prob: float, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids -> (corrupted ids (B, T), chosen (B, T) bool). At least one token of the batch is chosen."""
    candidates = attention_mask.bool() & ~torch.isin(input_ids, special_ids)
    if not bool(candidates.any()):
        raise DataError("a batch has no token to mask: every text is empty after [CLS]/[SEP]; texts need at least one word")
    draw = torch.rand(input_ids.shape, device=input_ids.device, generator=generator)
    chosen = candidates & (draw < mask_prob)
    # A short batch can draw nothing: then take its likeliest candidate (without a device sync).
    likeliest = candidates & (draw == draw.masked_fill(~candidates, 2.0).min())
    chosen = chosen | (likeliest & ~chosen.any())
    kind = torch.rand(input_ids.shape, device=input_ids.device, generator=generator)
    random_ids = torch.randint(0, vocab_size, input_ids.shape, device=input_ids.device, generator=generator)
    corrupted = torch.where(chosen & (kind < 0.8), torch.full_like(input_ids, mask_id), input_ids)
    corrupted = torch.where(chosen & (kind >= 0.8) & (kind < 0.9), random_ids, corrupted)
    return corrupted, chosen


def masked_patch_count(patches: int, ratio: float) -> int:
    """How many of ``patches`` a mask ratio hides; a ratio that hides none or all of them is an error."""
    count = round(ratio * patches)
    if count < 1:
        raise ConfigError(f"mask_prob={ratio} masks {count} of the {patches} patches: nothing to predict; raise it (MAE: 0.75)")
    if count >= patches:
        raise ConfigError(f"mask_prob={ratio} masks all {patches} patches: nothing stays visible; lower it (MAE: 0.75)")
    return count


def mask_patches(
    batch: int, patches: int, count: int, device: torch.device | str = "cpu", generator: torch.Generator | None = None
) -> torch.Tensor:
    """(B, N) bool with exactly ``count`` True per row, a uniformly random subset of each row."""
    ranks = torch.rand(batch, patches, device=device, generator=generator).argsort(dim=1).argsort(dim=1)
    return ranks < count
