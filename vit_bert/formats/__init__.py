"""Other libraries' weight formats, written: a vit_bert model as a timm Hub folder or a Hugging Face transformers folder.

    WRITERS   format name -> writer(model, directory) -> directory (``model.save_pretrained(dir, format=...)``,
              ``vit-bert export CKPT DIR --format ...``)
Below the model (they read its config, state dict, data contract, tokenizer and class names, never build one), beside
the tables both directions share (``timm_facts``, ``hf_processor``); the readers are ``vit_bert.weights``.
"""

from .hf_write import save_transformers
from .timm_write import save_timm

WRITERS = {"timm": save_timm, "transformers": save_transformers}

__all__ = ["WRITERS", "save_timm", "save_transformers"]
