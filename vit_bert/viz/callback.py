"""AttentionFigureCallback: watch attention form during training.

Keeps one fixed validation sample (the ``sample_index``-th of the first validation batch) and
every ``every_n_epochs`` validation epochs writes its attention figure (images: rollout + per-head
[CLS] maps; text: token x token matrices) to ``<log_dir>/attention/epoch{NNN}.png``. A co-trained model
gets one figure per task, from its first validation batch: ``epoch{NNN}.<task>.png``.

    python train.py --trainer.callbacks+=vit_bert.viz.AttentionFigureCallback --trainer.callbacks.every_n_epochs 5
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import torch

from ..errors import ConfigError
from ..multitask import MultiTaskModel
from ..tokenizer import display_tokens
from .view import attention_view, prediction_title, view_figure


class AttentionFigureCallback(L.Callback):
    def __init__(self, every_n_epochs: int = 1, sample_index: int = 0, layer: int = -1, dirpath: str | None = None):
        """
        Args:
            every_n_epochs: Write a figure after every n-th validation epoch.
            sample_index: Which sample of the first validation batch to follow.
            layer: Layer whose heads are drawn (-1 = the last).
            dirpath: Output folder (default: <trainer.log_dir>/attention).
        """
        if every_n_epochs < 1:
            raise ConfigError(f"every_n_epochs must be >= 1; got {every_n_epochs}")
        self.every_n_epochs, self.sample_index, self.layer, self.dirpath = every_n_epochs, sample_index, layer, dirpath
        self.samples: dict[int, dict[str, torch.Tensor]] = {}  # validation dataloader (a co-trained model's task) -> sample
        self.written: list[Path] = []

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if dataloader_idx not in self.samples and batch_idx == 0 and not trainer.sanity_checking:
            index = min(self.sample_index, len(batch["labels"]) - 1)
            self.samples[dataloader_idx] = {k: v[index : index + 1].detach().clone() for k, v in batch.items()}

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self.samples or trainer.sanity_checking or (trainer.current_epoch + 1) % self.every_n_epochs:
            return
        log_dir = trainer.log_dir  # a broadcast in a DDP run: every rank asks, or the ranks' next collectives pair up wrongly
        if not trainer.is_global_zero:
            return
        folder = Path(self.dirpath or Path(log_dir or ".") / "attention")
        folder.mkdir(parents=True, exist_ok=True)
        for index, sample in sorted(self.samples.items()):
            model, name = pl_module.model, f"epoch{trainer.current_epoch:03d}"
            if isinstance(model, MultiTaskModel):
                task = pl_module.task_order[index]
                model, name = model.task_model(task), f"{name}.{task}"
            path = folder / f"{name}.png"
            self._figure(trainer, model, sample, pl_module.device).savefig(path, dpi=80)
            self.written.append(path)

    def _figure(self, trainer, model, sample: dict[str, torch.Tensor], device: torch.device):
        inputs = {k: v.to(device) for k, v in sample.items() if k != "labels"}
        view = attention_view(model, inputs)
        contract, names = model.data_contract, model.class_names
        truth = int(sample["labels"][0])  # -1 for unlabelled text (masked-token pretraining)
        true_name = None if truth < 0 else (names[truth] if names else str(truth))
        title = f"epoch {trainer.current_epoch}: " + prediction_title(view, names, true_name)
        image = tokens = None
        if view.modality == "image":
            mean = torch.tensor(contract.mean if contract is not None else [0.0]).view(-1, 1, 1)
            std = torch.tensor(contract.std if contract is not None else [1.0]).view(-1, 1, 1)
            image = (inputs["images"][0].float().cpu() * std + mean).clamp(0, 1).permute(1, 2, 0).numpy()
        elif model.tokenizer is not None:
            tokens = display_tokens(model.tokenizer, view.token_ids)
        return view_figure(view, self.layer, title, image, tokens)
