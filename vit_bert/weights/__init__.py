"""Weights in: timm ViTs and Evas, Hugging Face text and image folders, train.py checkpoints, vit_bert folders -> a vit_bert model (out: ``vit_bert.formats``)."""

from ..errors import AmbiguousWeightsError, UnsafeCheckpointError, WeightsFileError, WeightsMismatchError
from .files import read_state_dict
from .load import Pretrained, PretrainedTasks, build_from_pretrained, load_pretrained, load_weights_strict, read_pretrained

__all__ = [
    "AmbiguousWeightsError", "Pretrained", "PretrainedTasks", "UnsafeCheckpointError", "WeightsFileError", "WeightsMismatchError",
    "build_from_pretrained", "load_pretrained", "load_weights_strict", "read_pretrained", "read_state_dict",
]
