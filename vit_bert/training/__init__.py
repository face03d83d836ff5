"""Lightning training: the classification task, masked-token pretraining, their optimizer, schedule and resume state."""

from .masked import MaskedTokenTask
from .task import ClassificationTask

__all__ = ["ClassificationTask", "MaskedTokenTask"]
