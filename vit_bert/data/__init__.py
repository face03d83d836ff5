"""Lightning data modules: images (digits, CIFAR, ImageFolder), text (CSV/TSV/JSONL, HF datasets), and both at once by task."""

from ..errors import DataError
from .image import ImageDataModule
from .multitask import MultiTaskDataModule
from .text import TextDataModule

__all__ = ["DataError", "ImageDataModule", "MultiTaskDataModule", "TextDataModule"]
