"""MaskedTokenTask: masked-token pretraining of the shared encoder on unlabelled text or images.

Masks are drawn on the device for the whole batch at once (``masking.py``), after the data module
has made the tokens' inputs; labels, if the batch has any, are not used.

    text   {"input_ids": (B, T), "attention_mask": (B, T)}  BERT's MLM. 15 % of the real tokens are
           chosen (80 % -> [MASK], 10 % random, 10 % kept); the model (head="mlm": dense, GELU,
           LayerNorm, decoder tied to the word embeddings) predicts the original ids there.
           loss = cross-entropy at the chosen tokens; ``*_acc`` = masked-token accuracy over the epoch,
           counted per chosen token (torchmetrics).
    images {"images": (B, C, H, W)}  MAE. A random 75 % of each image's patches are hidden; the encoder
           reads [CLS] and the visible patches only, and the model's decoder (head="pixels": mask tokens
           at the hidden places, one Block, a Linear per token) predicts the pixels of every patch.
           loss = L1 between prediction and the patch's pixels normalised by the patch's own mean
           and std, over the hidden patches. (MAE measured better than SimMIM here: docs/results.md.)

Validation and test draw their masks from a generator seeded by the batch index, so their figures
compare across epochs. The best checkpoint is the one with the lowest ``val_loss``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..config import DataContract, ModelOptions
from ..errors import ConfigError
from ..layers import patchify
from ..tokenizer import special_tokens
from .base import VitBertTask
from .optim import check_settings
from .masking import mask_patches, mask_tokens, masked_patch_count

DEFAULT_MASK_PROB = {"text": 0.15, "image": 0.75}  # BERT; MAE
HEADS = {"text": "mlm", "image": "pixels"}


def normalised_patches(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) -> (B, N, P * P * C), each patch's pixels minus their mean, over their std."""
    patches = patchify(images.float(), patch_size)
    mean, var = patches.mean(dim=-1, keepdim=True), patches.var(dim=-1, keepdim=True)
    return (patches - mean) / (var + 1e-6).sqrt()


class MaskedTokenTask(VitBertTask):
    monitor = ("val_loss", "min")

    def __init__(
        self,
        preset: str = "bert-mini",
        config: ModelOptions = ModelOptions(),
        data_contract: DataContract | None = None,
        mask_prob: float | None = None,
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.0,
        pretrained: str | None = None,
    ):
        """
        Args:
            preset: A text preset (bert-*) for text data, an image preset (vit-*) for images; see ``vit_bert.list_presets()``.
            config: ModelConfig fields that replace the preset's: --model.config.depth 6.
            data_contract: Filled in by train.py from the data module (vocabulary and tokenizer, or channels and size).
            mask_prob: Text: share of the real tokens chosen for prediction (default 0.15, BERT; 80/10/10
                [MASK]/random/kept). Images: share of each image's patches hidden (default 0.75, MAE).
            lr: Peak learning rate of AdamW.
            weight_decay: AdamW weight decay, applied to weight matrices only.
            betas: AdamW betas.
            warmup_fraction: Share of all training steps spent in linear warmup.
            min_lr_ratio: Final learning rate of the cosine schedule, relative to lr.
            pretrained: Continue from these weights (a Hugging Face BERT folder, a vit_bert folder or checkpoint):
                task-adaptive pretraining. Their masked-token head is kept when they have one.
        """
        super().__init__()
        self.save_hyperparameters(ignore=["config", "data_contract"])
        check_settings(self.hparams)
        if data_contract is None:
            raise ConfigError("MaskedTokenTask needs the data's contract (train.py links it from the data module)")
        modality = data_contract.modality
        self.mask_prob = DEFAULT_MASK_PROB[modality] if mask_prob is None else mask_prob
        if not 0.0 < self.mask_prob < 1.0:
            raise ConfigError(f"mask_prob must lie between 0 and 1 (exclusive), so that some tokens are predicted and some stay visible; got {mask_prob}")
        self.build_model_for(preset, config, data_contract, pretrained, head=HEADS[modality])
        if modality == "text":
            self._text_vocabulary(data_contract)
            vocabulary = self.config.vocab_size
            self.token_accuracy = nn.ModuleDict({f"{s}_acc": MulticlassAccuracy(vocabulary, average="micro") for s in ("train", "val", "test")})
        else:
            patches = (self.config.img_size // self.config.patch_size) ** 2
            self.masked_per_image = masked_patch_count(patches, self.mask_prob)

    def _text_vocabulary(self, contract: DataContract) -> None:
        tokenizer = contract.load_tokenizer()
        names = special_tokens(tokenizer)
        ids = names.ids(tokenizer)
        if ids["mask"] is None:
            raise ConfigError(f"the tokenizer has no {names.mask} token; masked-token pretraining needs one to hide tokens with")
        self.mask_id = ids["mask"]
        ids = [i for i in ids.values() if i is not None]
        self.register_buffer("special_ids", torch.tensor(ids), persistent=False)

    @property
    def headline(self) -> tuple[str, str]:
        if self.config.modality == "text":
            return "test_acc", "masked-token accuracy"
        return "test_loss", "pixel loss (L1 on masked patches)"

    def _text_step(self, batch: dict, generator: torch.Generator | None, stage: str) -> torch.Tensor:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        corrupted, chosen = mask_tokens(ids, mask, self.special_ids, self.mask_id, self.config.vocab_size, self.mask_prob, generator)
        features = self.model.forward_features(input_ids=corrupted, attention_mask=mask)
        logits = self.model.forward_head(features[chosen])  # (N, vocab): the chosen positions only
        targets = ids[chosen]
        accuracy = self.token_accuracy[f"{stage}_acc"]
        accuracy.update(logits.detach(), targets)  # counted per masked token, over the whole epoch
        self.log(f"{stage}_acc", accuracy, prog_bar=stage == "val", on_step=False, on_epoch=True)
        return F.cross_entropy(logits.float(), targets)

    def _image_step(self, batch: dict, generator: torch.Generator | None, stage: str) -> torch.Tensor:
        images = batch["images"]
        patches = (images.shape[2] // self.config.patch_size) * (images.shape[3] // self.config.patch_size)
        masked = mask_patches(len(images), patches, self.masked_per_image, images.device, generator)
        predicted = self.model.forward_masked(images, masked)
        target = normalised_patches(images, self.config.patch_size)
        return F.l1_loss(predicted[masked].float(), target[masked])

    def _step(self, batch: dict, generator: torch.Generator | None, stage: str) -> torch.Tensor:
        loss = (self._text_step if self.config.modality == "text" else self._image_step)(batch, generator, stage)
        on_step = stage == "train"
        size = len(next(iter(batch.values())))
        self.log(f"{stage}_loss", loss, prog_bar=stage != "test", on_step=on_step, on_epoch=not on_step, batch_size=size)
        return loss

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        return self.finite(self._step(batch, None, "train"))

    def _evaluate(self, batch: dict, batch_idx: int, stage: str) -> None:
        generator = torch.Generator(device=self.device).manual_seed(batch_idx)  # the same masks every epoch
        self._step(batch, generator, stage)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")
