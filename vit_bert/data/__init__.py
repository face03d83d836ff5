"""Lightning data modules: images (digits, CIFAR, ImageFolder) and text (CSV/TSV/JSONL, HF datasets)."""

from ..errors import DataError
from .image import ImageDataModule
from .text import TextDataModule

__all__ = ["DataError", "ImageDataModule", "TextDataModule"]
