"""The families of weights vit_bert reads: one entry each, with how it is recognised and how it is read.

    FAMILIES          the registry (a family's reader lives in its own file; adding one is that file and one line here)
    family_of(source) the one family that recognises a ``Source``; none stops, naming what vit_bert reads

A Hugging Face folder is recognised by its config.json's ``model_type`` alone; a timm Hub folder by the architecture its
config.json names; a bare state dict (no config.json) by its keys. The rules of different families never overlap, so the
order of the entries does not matter (``family_of`` checks that exactly one answers).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import WeightsError, WeightsMismatchError
from .hf_bert import FAMILIES as BERT_TYPES
from .hf_clip import CLIP_TYPES, SIGLIP2_TYPES, SIGLIP_TYPES, read_clip_vision, read_siglip2_vision, read_siglip_vision
from .hf_dinov2 import MODEL_TYPES as DINOV2_TYPES, read_dinov2
from .hf_dinov3 import MODEL_TYPES as DINOV3_TYPES, read_dinov3
from .hf_text import is_bert_source, is_modernbert_source, read_bert, read_modernbert
from .hf_vit import MODEL_TYPES as VIT_TYPES, read_hf_vit
from .pretrained import Pretrained, Source
from .timm_read import is_timm_source, read_timm


@dataclass(frozen=True)
class Family:
    name: str
    """As users know it, in messages and the README's table."""
    read: Callable[[Source], Pretrained]
    model_types: tuple[str, ...] = ()
    """The config.json ``model_type`` values of its Hugging Face folders."""
    recognises: Callable[[Source], bool] | None = None
    """For what a model_type does not name: a timm folder, a bare state dict. None: the model_type alone."""

    def answers(self, source: Source) -> bool:
        if self.recognises is not None:
            return self.recognises(source)
        return source.model_type in self.model_types


FAMILIES = (
    Family("timm VisionTransformer / Eva", read_timm, recognises=is_timm_source),
    Family("Hugging Face BERT, RoBERTa, ELECTRA, DistilBERT", read_bert, tuple(BERT_TYPES), recognises=is_bert_source),
    Family("Hugging Face ModernBERT", read_modernbert, ("modernbert",), recognises=is_modernbert_source),
    Family("Hugging Face ViT, DeiT", read_hf_vit, VIT_TYPES),
    Family("Hugging Face DINOv2", read_dinov2, DINOV2_TYPES),
    Family("Hugging Face CLIP vision", read_clip_vision, CLIP_TYPES),
    Family("Hugging Face SigLIP vision", read_siglip_vision, SIGLIP_TYPES),
    Family("Hugging Face SigLIP 2 vision (NaFlex)", read_siglip2_vision, SIGLIP2_TYPES),
    Family("Hugging Face DINOv3 ViT", read_dinov3, DINOV3_TYPES),
)
MODEL_TYPES = tuple(t for family in FAMILIES for t in family.model_types)


def family_of(source: Source) -> Family:
    found = [family for family in FAMILIES if family.answers(source)]
    if len(found) > 1:  # a rule of the registry is wrong, not the user's weights
        raise AssertionError(f"{source.where} is recognised by {', '.join(f.name for f in found)}; the families' rules must not overlap")
    if found:
        return found[0]
    if source.model_type is not None:
        raise WeightsError(f"config.json describes a {source.model_type!r} model; vit_bert reads the model types "
                           f"{', '.join(map(repr, MODEL_TYPES))}")
    sample = ", ".join(list(source.state_dict)[:5])
    raise WeightsMismatchError(
        f"{source.where} is neither a timm VisionTransformer nor a BERT state dict (first keys: {sample}); "
        "expected timm keys (patch_embed.proj.weight, blocks.0...) or BERT keys (embeddings.word_embeddings.weight, encoder.layer.0...)"
    )
