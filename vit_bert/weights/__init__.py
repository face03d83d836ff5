"""Weights in and out: timm ViT / Hugging Face BERT / train.py checkpoints -> vit_bert, and vit_bert's own folder format."""

from .files import UnsafeCheckpointError, WeightsFileError, read_state_dict
from .load import WeightsMismatchError, load_pretrained, load_weights_strict, read_pretrained
from .native import save_pretrained

__all__ = [
    "UnsafeCheckpointError", "WeightsFileError", "WeightsMismatchError", "load_pretrained", "load_weights_strict",
    "read_pretrained", "read_state_dict", "save_pretrained",
]
