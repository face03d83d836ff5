"""Lightning training: the tasks (classification, masked-token pretraining, co-training) on one base, their optimizer,
schedule and resume state."""

from .base import VitBertTask
from .masked import MaskedTokenTask
from .multitask import MultiTaskClassification
from .task import ClassificationTask

__all__ = ["ClassificationTask", "MaskedTokenTask", "MultiTaskClassification", "VitBertTask"]
