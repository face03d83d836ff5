"""MultiTaskClassification: co-train one shared Encoder on image and text classification tasks.

Batches come from ``MultiTaskDataModule``:
    training     {task: {"images" | "input_ids", "attention_mask", "labels"}}: one batch per task; the step's
                 loss is the weighted sum of the tasks' cross-entropies (every task moves the encoder each step)
    val / test   one task's batch, with ``dataloader_idx`` = the task's place in the data's task order
Logged: ``train_loss`` (the sum) and ``train_loss/<task>``; ``val_acc/<task>``, ``test_acc/<task>``, and
``val_acc`` / ``test_acc``: the mean over the tasks, on which the best checkpoint is chosen.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from ..config import DataContract
from ..errors import ConfigError
from ..multitask import MultiTaskModel, task_configs
from ..checkpoint_format import multitask_entries
from ..weights.load import read_pretrained
from ..weights.multitask import encoder_fields_of, load_shared_encoder
from .base import VitBertTask
from .optim import check_settings


class MultiTaskClassification(VitBertTask):
    @property
    def headline(self) -> tuple[str, str]:
        return "test_acc", "accuracy, mean over the tasks"

    def __init__(
        self,
        encoder: str | dict[str, int | float | bool | str] | None = None,
        tasks: dict[str, dict[str, int | float | bool | str]] | None = None,
        data_contract: dict[str, DataContract] | None = None,
        loss_weights: dict[str, float] | None = None,
        lr: float = 1e-3,
        task_lr: dict[str, float] | None = None,
        weight_decay: float = 0.05,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.01,
        label_smoothing: float = 0.0,
        pretrained: str | None = None,
    ):
        """
        Args:
            encoder: The shared encoder: a preset name (its encoder fields are used) or a dict of encoder fields
                {dim, depth, heads, mlp_ratio, pre_norm, ...}. Default: bert-mini's, or the pretrained encoder's.
            tasks: Task name -> that task's front-end and head fields ({patch_size: 4, stem: conv} or {max_len: 128});
                what the data dictates (modality, classes, channels, size, vocabulary) comes from the data module.
            data_contract: Filled in by train.py from the data module: task -> DataContract.
            loss_weights: Task -> weight of its loss in the sum (default 1 each).
            lr: Peak learning rate of AdamW.
            task_lr: Task -> peak learning rate of its front-end and head, e.g. higher for the fresh parts
                when the encoder starts from pretrained weights (default lr; the encoder always uses lr).
            weight_decay: AdamW weight decay, applied to weight matrices only.
            betas: AdamW betas.
            warmup_fraction: Share of all training steps spent in linear warmup.
            min_lr_ratio: Final learning rate of the cosine schedule, relative to lr.
            label_smoothing: Cross-entropy label smoothing, every task.
            pretrained: Start the shared encoder from these weights (a Hugging Face BERT folder, a timm ViT file, a vit_bert
                folder or checkpoint); the front-end of the same modality too where its fields agree, the other starts fresh.
        """
        super().__init__()
        self.save_hyperparameters(ignore=["data_contract"])
        check_settings(self.hparams)
        if not data_contract:
            raise ConfigError("MultiTaskClassification needs the data's contracts: use vit_bert.data.MultiTaskDataModule (train.py links them)")
        tasks = dict(tasks or {})
        unknown = sorted(set(tasks) - set(data_contract))
        if unknown:
            raise ConfigError(f"model.tasks names {unknown}, which data.tasks does not have; the data's tasks are {', '.join(data_contract)}")
        weights = dict(loss_weights or {})
        if set(weights) - set(data_contract):
            raise ConfigError(f"model.loss_weights names {sorted(set(weights) - set(data_contract))}, which are not tasks; the tasks are {', '.join(data_contract)}")
        # Only the encoder (and front-ends) are read: the source's head, of whatever kind, is not (num_classes=0)
        known = {**(encoder if isinstance(encoder, dict) else {}), "num_classes": 0}
        source = read_pretrained(pretrained, known, head="replace") if pretrained else None
        if source is not None:
            encoder = encoder_fields_of(source, encoder, "model.encoder")
        elif encoder is None:
            encoder = "bert-mini"
        specs = {}
        for name, contract in data_contract.items():  # the data's task order
            fields = dict(tasks.get(name, {}))
            for key, value in {"modality": contract.modality, **contract.model_fields()}.items():
                if key in fields and fields[key] != value:
                    raise ConfigError(f"model.tasks.{name}.{key}={fields[key]!r} disagrees with task {name!r}'s data, which has {key}={value!r}")
                fields[key] = value
            if contract.modality == "text" and contract.max_length > fields.get("max_len", contract.max_length):
                raise ConfigError(f"task {name!r}: data max_length={contract.max_length} exceeds model.tasks.{name}.max_len={fields['max_len']}")
            specs[name] = fields
        self.model = MultiTaskModel(task_configs(encoder, specs))
        if source is not None:
            load_shared_encoder(self.model, source, str(pretrained))
        for name, contract in data_contract.items():
            self.model.set_data_contract(name, contract)
        self.data_contract = data_contract
        self.task_order = list(data_contract)
        self.loss_weights = {name: float(weights.get(name, 1.0)) for name in self.task_order}
        self.lr_by_prefix = self._lr_by_prefix(dict(task_lr or {}))
        self.val_metrics = nn.ModuleDict({n: MulticlassAccuracy(c.num_classes, average="micro") for n, c in data_contract.items()})
        self.test_metrics = nn.ModuleDict({n: MulticlassAccuracy(c.num_classes, average="micro") for n, c in data_contract.items()})

    def _lr_by_prefix(self, task_lr: dict[str, float]) -> dict[str, float]:
        unknown = sorted(set(task_lr) - set(self.task_order))
        if unknown:
            raise ConfigError(f"model.task_lr names {unknown}, which are not tasks; the tasks are {', '.join(self.task_order)}")
        prefixes = {}
        for name, lr in task_lr.items():
            owner = self.model.frontend_of[name]
            sharing = [t for t in self.task_order if self.model.frontend_of[t] == owner]
            if len({task_lr.get(t) for t in sharing}) > 1:
                raise ConfigError(f"tasks {', '.join(sharing)} share one front-end, so model.task_lr must give them the same "
                                  f"learning rate; got {', '.join(f'{t}: {task_lr.get(t)}' for t in sharing)}")
            prefixes[f"frontends.{owner}."] = prefixes[f"heads.{name}."] = float(lr)
        return prefixes

    def checkpoint_entries(self) -> dict:
        # Each task's resolved config and data contract: the checkpoint alone rebuilds the model and reads inputs.
        return multitask_entries({name: (self.model.task_configs[name].to_dict(), self.data_contract[name]) for name in self.task_order})

    @staticmethod
    def _inputs(batch: dict) -> dict:
        return {k: v for k, v in batch.items() if k != "labels"}

    def training_step(self, batch: dict[str, dict], batch_idx: int) -> torch.Tensor:
        total = 0.0
        for name, part in batch.items():
            logits = self.model(**self._inputs(part), task=name)
            loss = F.cross_entropy(logits.float(), part["labels"], label_smoothing=self.hparams.label_smoothing)
            total = total + self.loss_weights[name] * loss
            self.log(f"train_loss/{name}", loss, batch_size=len(part["labels"]))
        self.finite(total)
        self.log("train_loss", total, prog_bar=True, batch_size=sum(len(p["labels"]) for p in batch.values()))
        return total

    def _evaluate(self, batch: dict, dataloader_idx: int, metrics: nn.ModuleDict, stage: str) -> None:
        name = self.task_order[dataloader_idx]
        logits = self.model(**self._inputs(batch), task=name)
        metrics[name].update(logits, batch["labels"])
        self.log(f"{stage}_loss/{name}", F.cross_entropy(logits.float(), batch["labels"]), batch_size=len(batch["labels"]), add_dataloader_idx=False)

    def _log_accuracies(self, metrics: nn.ModuleDict, stage: str) -> None:
        accuracies = {name: metrics[name].compute() for name in self.task_order if metrics[name].update_count > 0}
        for name, accuracy in accuracies.items():
            self.log(f"{stage}_acc/{name}", accuracy, add_dataloader_idx=False)
            metrics[name].reset()
        if accuracies:
            self.log(f"{stage}_acc", torch.stack(list(accuracies.values())).mean(), prog_bar=stage == "val", add_dataloader_idx=False)

    def validation_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, dataloader_idx, self.val_metrics, "val")

    def on_validation_epoch_end(self) -> None:
        self._log_accuracies(self.val_metrics, "val")

    def test_step(self, batch: dict, batch_idx: int, dataloader_idx: int = 0) -> None:
        self._evaluate(batch, dataloader_idx, self.test_metrics, "test")

    def on_test_epoch_end(self) -> None:
        self._log_accuracies(self.test_metrics, "test")
