"""Lightning training: the shared classification task, its optimizer and schedule."""

from .task import ClassificationTask

__all__ = ["ClassificationTask"]
