"""Features for dense tasks, as timm spells them: ``forward_intermediates`` (``TransformerClassifier`` has it as a method,
and ``prune_intermediate_layers``).

    forward_intermediates(model, *inputs, indices=None, norm=False, output_fmt=None, intermediates_only=False,
                          stop_early=False, return_prefix_tokens=False, output_dict=False, **frontend_kwargs)
        images (B, C, H, W): each taken block's output, its prefix tokens split off, as (B, D, H/P, W/P) ("NCHW", the
        default) or (B, N, D) ("NLC"); with ``return_prefix_tokens`` each is (patches, prefix (B, prefix, D)).
        text (B, T) ids [+ attention_mask]: (B, T, D) ("NLC" only), zeros at the padding; ``output_dict`` adds the mask.
        -> (final features (B, L, D) after the final norm, [intermediates]); the list alone with ``intermediates_only``;
        with ``output_dict``: timm's keys ``image_features`` / ``image_intermediates`` / ``image_intermediates_prefix``
        (text: ``text_features`` / ``text_intermediates`` / ``attention_mask``).
``indices`` as in timm (``feature_take_indices``): None every block, an int n the last n, a list those (negatives from the end).
``norm`` applies the final norm to each intermediate; ``stop_early`` runs no block past the last one taken.
"""

from __future__ import annotations

from einops import rearrange
from timm.models._features import feature_take_indices

from .errors import InputError

FORMATS = ("NCHW", "NLC")


def forward_intermediates(model, *inputs, indices: int | list[int] | None = None, norm: bool = False, output_fmt: str | None = None,
                          intermediates_only: bool = False, stop_early: bool = False, return_prefix_tokens: bool = False,
                          output_dict: bool = False, **frontend_kwargs):
    text = model.config.modality == "text"
    output_fmt = output_fmt or ("NLC" if text else "NCHW")
    if output_fmt not in FORMATS or (text and output_fmt != "NLC"):
        raise InputError(f"output_fmt={output_fmt!r}: expected {'NLC for text' if text else ' or '.join(FORMATS)}")
    if text and return_prefix_tokens:
        raise InputError("return_prefix_tokens: text has no prefix tokens ([CLS] is the first token of each sequence)")
    encoder = model.encoder
    take, last = feature_take_indices(len(encoder.blocks), indices)
    encoder_input = model.frontend(*inputs, **frontend_kwargs)
    mask, prefix = encoder_input.mask, encoder_input.num_prefix_tokens
    states = encoder.forward_intermediates(encoder_input.tokens, mask, encoder_input.positions,
                                           blocks=last + 1 if stop_early else None)
    taken = [encoder.norm(states[i + 1]) if norm else states[i + 1] for i in take]
    final = encoder.norm(states[-1])
    if mask is not None:  # the norm's bias would fill the padding
        keep = mask[..., None].to(final.dtype)
        taken, final = [y * keep for y in taken], final * keep
    if text:
        if output_dict:
            result = {"text_intermediates": taken, "attention_mask": mask}
            return result if intermediates_only else {**result, "text_features": final}
        return taken if intermediates_only else (final, taken)
    prefixes = [y[:, :prefix] for y in taken]
    patches = [y[:, prefix:] for y in taken]
    if output_fmt == "NCHW":
        height = encoder_input.grid[0]
        patches = [rearrange(y, "b (h w) d -> b d h w", h=height).contiguous() for y in patches]
    if output_dict:
        result = {"image_intermediates": patches}
        if return_prefix_tokens and prefix:
            result["image_intermediates_prefix"] = prefixes
        return result if intermediates_only else {**result, "image_features": final}
    if return_prefix_tokens and prefix:
        patches = list(zip(patches, prefixes))
    return patches if intermediates_only else (final, patches)
