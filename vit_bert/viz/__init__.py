"""See the attention: rollout and per-head [CLS] maps for images, token x token matrices for text,
a step-by-step trace of one head, the interactive explorer page, and a Lightning callback that draws
figures during training.

    python -m vit_bert.viz SOURCE INPUT --out attention.png [--layer -1] [--trace]
    vit-bert viz SOURCE INPUT... --html page.html         explore(model_or_source, *inputs) in a notebook
    vit-bert explore SOURCE                               the page served on 127.0.0.1
"""

from .explorer import explore
from .figures import image_figure, text_figure
from .page import Explorer
from .rollout import attention_rollout, cls_to_patches
from .trace import trace_layer
from .view import AttentionView, attention_view, prediction_title, view_figure

__all__ = [
    "AttentionFigureCallback", "AttentionView", "Explorer", "attention_rollout", "attention_view", "cls_to_patches", "explore", "image_figure",
    "prediction_title", "text_figure", "trace_layer", "view_figure",
]


def __getattr__(name: str):
    # The callback needs Lightning, a slow import the CLI and plotting functions do without.
    if name == "AttentionFigureCallback":
        from .callback import AttentionFigureCallback

        return AttentionFigureCallback
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
