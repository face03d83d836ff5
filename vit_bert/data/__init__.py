"""Lightning data modules: images (digits, CIFAR, ImageFolder) and text (CSV/TSV/JSONL, HF datasets)."""

from .image import ImageDataModule
from .base import DataError
from .text import TextDataModule

__all__ = ["DataError", "ImageDataModule", "TextDataModule"]
