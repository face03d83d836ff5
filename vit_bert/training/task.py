"""ClassificationTask: the one LightningModule that trains a vit_bert classifier on images or text.

Batches are dicts: the model's inputs by name plus ``labels`` (B,):
    image: {"images": (B, C, H, W) float, "labels"}
    text:  {"input_ids": (B, T), "attention_mask": (B, T), "labels"}
so the task never branches on modality; the model's front-end does. What the model must
match in the data (classes, channels, size, vocabulary) arrives as a ``DataContract`` from the
data module (linked by train.py); it is stored in every checkpoint, so a checkpoint alone
rebuilds the model and reads new inputs exactly as training did.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F
from timm.data import Mixup
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy

from ..config import ARCHITECTURE_FIELDS, DataContract, ModelConfig, ModelOptions
from ..errors import ConfigError, TrainingDivergedError
from ..model import build_model
from ..weights.load import build_from_pretrained, read_pretrained
from .optim import adamw_warmup_cosine


def merge_model_options(config: ModelOptions | None, overrides: dict | None) -> dict[str, tuple[object, str]]:
    """The typed ``model.config`` fields, then the older ``model.overrides`` dict on top -> {field: (value, spelling)}.

    Overrides come last, as a command line's flags come after its config file: a YAML config's
    ``model.config`` block stays the base that ``--model.overrides "{...}"`` adjusts."""
    merged = {key: (value, f"model.config.{key}") for key, value in (config.set_fields() if config is not None else {}).items()}
    merged.update({key: (value, f"model.overrides.{key}") for key, value in (overrides or {}).items()})
    return merged


TASK_OF_HEAD = {"classifier": "a classification task", "mlm": "masked-token pretraining of text", "pixels": "masked-patch pretraining of images"}


def model_config(
    preset: str, options: dict[str, tuple[object, str]], contract: DataContract | None, pretrained_config: dict | None = None,
    *, head: str = "classifier",
) -> ModelConfig:
    """Preset (or pretrained weights' config) + user options + what the data dictates, with ``head``.

    A user value that contradicts the data is an error, and so are a vocabulary that differs from
    the pretrained one (the embeddings would not match the token ids) and an architecture field
    that differs from the pretrained weights' (they would not fit, or would compute something else)."""
    values = {key: value for key, (value, _) in options.items()}
    if values.get("head", head) != head:
        raise ConfigError(f"{options['head'][1]}={values['head']!r}: {TASK_OF_HEAD[head]} needs head={head!r}")
    values["head"] = head
    if head != "classifier":
        values["num_classes"] = 0  # a pretraining head has no classes
    modality = values.get("modality") or (pretrained_config or ModelConfig.from_name(preset).to_dict())["modality"]
    if contract is not None and contract.modality != modality:
        where = f"model preset {preset!r}" if pretrained_config is None else "the pretrained model"
        raise ConfigError(
            f"{where} reads {modality} inputs, but the data module gives {contract.modality}; "
            f"choose a {'vit-' if contract.modality == 'image' else 'bert-'}* preset or the other data module"
        )
    if pretrained_config is None:
        base = ModelConfig.from_name(preset, **values)
    else:  # e.g. a pretrained masked-token model is fine-tuned with a classifier in place of its MLM head
        source = ModelConfig.from_dict(pretrained_config)
        for key in ARCHITECTURE_FIELDS:
            if key in options and options[key][0] != getattr(source, key):
                raise ConfigError(
                    f"{options[key][1]}={options[key][0]} disagrees with the pretrained model, which has {key}={getattr(source, key)}; "
                    "its weights fix this field: remove the setting or pretrain a model with it"
                )
        base = ModelConfig.from_dict({**pretrained_config, **values})
        if base.modality == "text" and contract is not None and contract.vocab_size != base.vocab_size:
            raise ConfigError(
                f"the data's tokenizer has {contract.vocab_size} tokens but the pretrained model's vocabulary has "
                f"{base.vocab_size}; use the pretrained folder's tokenizer (data.tokenizer)"
            )
    if contract is None:
        return base
    if contract.num_classes == 0 and head == "classifier":
        raise ConfigError("the data has no labels (data.label_column is null): a classification task needs them; "
                          "for masked-token pretraining on unlabelled text use task: masked_tokens (configs/mlm_pretrain.yaml)")
    from_data = contract.model_fields()
    if head != "classifier":
        del from_data["num_classes"]  # pretraining ignores the labels
    for key, value in from_data.items():
        if key in options and options[key][0] != value:
            raise ConfigError(
                f"{options[key][1]}={options[key][0]} disagrees with the dataset, which has {key}={value}; "
                "remove the setting or fix the data"
            )
    if base.modality == "text" and contract.max_length > base.max_len:
        raise ConfigError(f"data.max_length={contract.max_length} exceeds the model's position table max_len={base.max_len}")
    return base.replace(**from_data)


class ClassificationTask(L.LightningModule):
    best_checkpoint = {"monitor": "val_acc", "mode": "max", "filename": "best-epoch{epoch:03d}-acc{val_acc:.4f}"}
    headline_metric = ("test_acc", "accuracy")  # (logged test metric, what to call it) for train.py's summary line

    def __init__(
        self,
        preset: str = "vit-cifar/4",
        config: ModelOptions = ModelOptions(),
        overrides: dict[str, int | float | bool | str] | None = None,
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
    ):
        """
        Args:
            preset: Model preset name (see ``vit_bert.list_presets()``), e.g. vit-cifar/4 or bert-mini.
            config: ModelConfig fields that replace the preset's, each typed and checked: --model.config.depth 6.
            overrides: The same as a dict, e.g. "{depth: 6, drop_path: 0.1}" (the older spelling), applied after model.config.
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
        """
        super().__init__()
        if isinstance(config, dict):  # hparams of a checkpoint hold the plain dict
            config = ModelOptions(**config)
        # Plain values only in the hyperparameters: checkpoints stay loadable with weights_only=True.
        self.save_hyperparameters(ignore=["config", "data_contract"])
        self.hparams["config"] = config.set_fields()
        self.data_contract = data_contract
        options = merge_model_options(config, overrides)
        if pretrained:
            source = read_pretrained(pretrained, {key: value for key, (value, _) in options.items()})
            self.config = model_config(preset, options, data_contract, source.config)
            self.model = build_from_pretrained(source, **self.config.to_dict())
        else:
            self.config = model_config(preset, options, data_contract)
            self.model = build_model(self.config)
        self.model.set_data_contract(data_contract)
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

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # The resolved config rebuilds the model without the preset logic or the pretrained source;
        # the data contract reads new inputs as training did.
        checkpoint["vit_bert_model_config"] = self.config.to_dict()
        checkpoint["vit_bert_data"] = self.data_contract.to_dict() if self.data_contract is not None else None

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
        if not torch.isfinite(loss):
            raise TrainingDivergedError(
                f"the training loss became {float(loss)} at step {self.global_step}; lower model.lr (now {self.hparams.lr}) "
                "or train in fp32 (--trainer.precision 32-true). The checkpoints written so far are kept"
            )
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

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.model)
