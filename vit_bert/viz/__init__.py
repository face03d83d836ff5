"""See the attention: rollout and per-head [CLS] maps for images, token x token matrices for text,
a step-by-step trace of one head, and a Lightning callback that draws them during training.

    python -m vit_bert.viz SOURCE INPUT --out attention.png [--layer -1] [--trace]
"""

from .figures import image_figure, text_figure
from .rollout import attention_rollout, cls_to_patches
from .trace import trace_layer
from .view import AttentionView, attention_view, prediction_title, view_figure

__all__ = [
    "AttentionFigureCallback", "AttentionView", "attention_rollout", "attention_view", "cls_to_patches", "image_figure",
    "prediction_title", "text_figure", "trace_layer", "view_figure",
]


def __getattr__(name: str):
    # The callback needs Lightning, a slow import the CLI and plotting functions do without.
    if name == "AttentionFigureCallback":
        from .callback import AttentionFigureCallback

        return AttentionFigureCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
