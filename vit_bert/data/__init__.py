"""Lightning data modules: images (digits, CIFAR, folders, tables, HF; in memory or streamed), text, and both by task.

The data modules are imported when first named (``vit_bert.data.ImageDataModule``, as a config's class_path does):
predict, viz and export use only ``image_reading``, ``image_transforms`` and ``augment``, and need not load Lightning (about 2 s).
"""

from ..errors import DataError

__all__ = ["DataError", "ImageDataModule", "MultiTaskDataModule", "TextDataModule"]


def __getattr__(name: str):
    if name == "ImageDataModule":
        from .image import ImageDataModule

        return ImageDataModule
    if name == "MultiTaskDataModule":
        from .multitask import MultiTaskDataModule

        return MultiTaskDataModule
    if name == "TextDataModule":
        from .text import TextDataModule

        return TextDataModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
