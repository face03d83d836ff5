"""ClassificationTask: trains a vit_bert classifier on images or text (the shared parts: ``base.py``).

Batches are dicts: the model's inputs by name plus ``labels`` (B,):
    image: {"images": (B, C, H, W) float, "labels"}
    text:  {"input_ids": (B, T), "attention_mask": (B, T), "labels"}
so the task never branches on modality; the model's front-end does. What the model must
match in the data (classes, channels, size, vocabulary) arrives as a ``DataContract`` from the
data module (linked by train.py); it is stored in every checkpoint, so a checkpoint alone
rebuilds the model and reads new inputs exactly as training did.
"""

from __future__ import annotations

import dataclasses

import torch
import torch.nn.functional as F
from timm.data import Mixup
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from ..config import DataContract, ModelOptions
from ..errors import ConfigError
from ..layers.lora import LoRAConfig
from .base import VitBertTask
from .optim import check_settings


class ClassificationTask(VitBertTask):
    def __init__(
        self,
        preset: str = "vit-cifar/4",
        config: ModelOptions = ModelOptions(),
        data_contract: DataContract | None = None,
        lr: float = 1e-3,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.01,
        label_smoothing: float = 0.0,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        compile: bool = False,
        pretrained: str | None = None,
        lora: LoRAConfig | None = None,
    ):
        """
        Args:
            preset: Model preset name (see ``vit_bert.list_presets()``), e.g. vit-cifar/4 or bert-mini.
            config: ModelConfig fields that replace the preset's, each typed and checked: --model.config.depth 6.
            data_contract: Filled in by train.py from the data module (classes, channels, size, vocabulary).
            lr: Peak learning rate of AdamW.
            weight_decay: AdamW weight decay, applied to weight matrices only.
            betas: AdamW betas.
            warmup_fraction: Share of all training steps spent in linear warmup.
            min_lr_ratio: Final learning rate of the cosine schedule, relative to lr.
            label_smoothing: Cross-entropy label smoothing.
            mixup_alpha: Mixup strength for images (0 = off), via timm.
            cutmix_alpha: CutMix strength for images (0 = off), via timm.
            compile: Run the model through torch.compile.
            pretrained: Start from these weights instead of the preset (a timm ViT file, a Hugging Face BERT
                folder, a vit_bert folder or train.py checkpoint; see ``vit_bert.load_pretrained``).
                Model options and data still apply: a new class count re-initialises the classifier.
            lora: LoRA adapters on the encoder (--model.lora.rank 8; alpha, targets among q, k, v, proj, fc1, fc2):
                only they and the head train. The checkpoint holds them apart; loading it, save_pretrained and export
                fold them into plain weights.
        """
        super().__init__()
        self.save_hyperparameters(ignore=["config", "data_contract", "lora"])
        self.hparams["lora"] = dataclasses.asdict(lora) if lora is not None else None  # plain values: weights_only checkpoints
        check_settings(self.hparams)
        self.build_model_for(preset, config, data_contract, pretrained, head="classifier")
        if lora is not None:
            self.model.add_lora(lora.rank, lora.alpha, lora.targets)
        self.mixup = self._build_mixup(mixup_alpha, cutmix_alpha, label_smoothing)
        if compile:
            self.model.compile()  # in place: state-dict keys stay the same as without compile
        num_classes = self.config.num_classes
        top5 = {"acc5": MulticlassAccuracy(num_classes, top_k=5)} if self.config.modality == "image" and num_classes > 5 else {}
        metrics = MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro"), **top5})
        self.train_metrics = MetricCollection({"acc": MulticlassAccuracy(num_classes, average="micro")}, prefix="train_")
        self.val_metrics = metrics.clone(prefix="val_")
        self.test_metrics = metrics.clone(prefix="test_")

    def _build_mixup(self, mixup_alpha: float, cutmix_alpha: float, label_smoothing: float):
        if mixup_alpha <= 0 and cutmix_alpha <= 0:
            return None
        if self.config.modality != "image":
            raise ConfigError("mixup_alpha/cutmix_alpha apply to images only; set them to 0 for text")
        return Mixup(mixup_alpha=mixup_alpha, cutmix_alpha=cutmix_alpha, label_smoothing=label_smoothing, num_classes=self.config.num_classes)

    @property
    def class_names(self) -> list[str] | None:
        return self.data_contract.class_names if self.data_contract is not None else None

    def forward(self, **inputs) -> torch.Tensor:
        return self.model(**inputs)

    @staticmethod
    def split(batch: dict) -> tuple[dict, torch.Tensor | None]:
        inputs = {k: v for k, v in batch.items() if k != "labels"}
        return inputs, batch.get("labels")

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        inputs, labels = self.split(batch)
        if self.mixup is not None:
            inputs["images"], soft_targets = self.mixup(inputs["images"], labels)
            logits = self(**inputs)
            loss = torch.sum(-soft_targets * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()
        else:
            logits = self(**inputs)
            loss = F.cross_entropy(logits.float(), labels, label_smoothing=self.hparams.label_smoothing)
        self.finite(loss)
        self.train_metrics.update(logits.detach(), labels)
        batch_size = labels.shape[0]
        self.log("train_loss", loss, prog_bar=True, batch_size=batch_size)
        self.log_dict(self.train_metrics, on_step=False, on_epoch=True, batch_size=batch_size)
        return loss

    def _evaluate(self, batch: dict, metrics: MetricCollection, stage: str) -> None:
        inputs, labels = self.split(batch)
        logits = self(**inputs)
        metrics.update(logits, labels)
        self.log(f"{stage}_loss", F.cross_entropy(logits.float(), labels), prog_bar=stage == "val", batch_size=labels.shape[0])
        self.log_dict(metrics, prog_bar=stage == "val", batch_size=labels.shape[0])

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics, "test")

    def predict_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        inputs, _ = self.split(batch)
        return self(**inputs).float().softmax(dim=-1)
