"""MaskedTokenTask: BERT's masked-language-model pretraining of the shared encoder on unlabelled text.

Batches: {"input_ids": (B, T), "attention_mask": (B, T), ...} (labels, if any, are not used).
On the device, for the whole batch at once (``mask_tokens``): each real token that is not [CLS], [SEP]
or [PAD] is chosen with probability ``mask_prob`` (15 %); of the chosen, 80 % become [MASK], 10 % a
random token and 10 % stay. The model (head="mlm": dense, GELU, LayerNorm, decoder tied to the word
embeddings) predicts the original ids at the chosen positions only; loss = cross-entropy there.
Logged: ``train_loss``, ``val_loss``/``test_loss`` and ``val_acc``/``test_acc`` (masked-token accuracy).
Validation and test mask with a generator seeded by the batch index, so their figures compare across epochs.
"""

from __future__ import annotations

import lightning as L
import torch
import torch.nn.functional as F

from ..config import DataContract, ModelOptions
from ..errors import ConfigError, DataError, TrainingDivergedError
from ..model import build_model
from ..weights.load import build_from_pretrained, read_pretrained
from .optim import adamw_warmup_cosine
from .task import merge_model_options

SPECIAL_TOKENS = ("[CLS]", "[SEP]", "[PAD]", "[UNK]", "[MASK]")


def mask_tokens(
    input_ids: torch.Tensor, attention_mask: torch.Tensor, special_ids: torch.Tensor, mask_id: int, vocab_size: int,
    mask_prob: float, generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, T) ids -> (corrupted ids (B, T), chosen (B, T) bool). At least one token of the batch is chosen."""
    candidates = attention_mask.bool() & ~torch.isin(input_ids, special_ids)
    if not bool(candidates.any()):
        raise DataError("a batch has no token to mask: every text is empty after [CLS]/[SEP]; texts need at least one word")
    draw = torch.rand(input_ids.shape, device=input_ids.device, generator=generator)
    chosen = candidates & (draw < mask_prob)
    # A short batch can draw nothing: then take its likeliest candidate (without a device sync).
    likeliest = candidates & (draw == draw.masked_fill(~candidates, 2.0).min())
    chosen = chosen | (likeliest & ~chosen.any())
    kind = torch.rand(input_ids.shape, device=input_ids.device, generator=generator)
    random_ids = torch.randint(0, vocab_size, input_ids.shape, device=input_ids.device, generator=generator)
    corrupted = torch.where(chosen & (kind < 0.8), torch.full_like(input_ids, mask_id), input_ids)
    corrupted = torch.where(chosen & (kind >= 0.8) & (kind < 0.9), random_ids, corrupted)
    return corrupted, chosen


class MaskedTokenTask(L.LightningModule):
    def __init__(
        self,
        preset: str = "bert-mini",
        config: ModelOptions = ModelOptions(),
        overrides: dict[str, int | float | bool | str] | None = None,
        data_contract: DataContract | None = None,
        mask_prob: float = 0.15,
        lr: float = 5e-4,
        weight_decay: float = 0.01,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_fraction: float = 0.05,
        min_lr_ratio: float = 0.0,
        pretrained: str | None = None,
    ):
        """
        Args:
            preset: A text preset (bert-*), see ``vit_bert.list_presets()``.
            config: ModelConfig fields that replace the preset's: --model.config.depth 6.
            overrides: The same as a dict (the older spelling), applied after model.config.
            data_contract: Filled in by train.py from the data module (vocabulary, pad id, tokenizer).
            mask_prob: Share of the real tokens chosen for prediction (BERT: 0.15); 80/10/10 [MASK]/random/kept.
            lr: Peak learning rate of AdamW.
            weight_decay: AdamW weight decay, applied to weight matrices only.
            betas: AdamW betas.
            warmup_fraction: Share of all training steps spent in linear warmup.
            min_lr_ratio: Final learning rate of the cosine schedule, relative to lr.
            pretrained: Continue from these weights (a Hugging Face BERT folder, a vit_bert folder or checkpoint):
                task-adaptive pretraining. Their MLM head is kept when they have one.
        """
        super().__init__()
        if isinstance(config, dict):
            config = ModelOptions(**config)
        self.save_hyperparameters(ignore=["config", "data_contract"])
        self.hparams["config"] = config.set_fields()
        if not 0.0 < mask_prob < 1.0:
            raise ConfigError(f"mask_prob must lie between 0 and 1 (exclusive), so that some tokens are predicted and some stay visible; got {mask_prob}")
        if data_contract is None or data_contract.modality != "text":
            raise ConfigError("MaskedTokenTask pretrains on text: use vit_bert.data.TextDataModule (masked image pretraining is not there yet)")
        self.data_contract = data_contract
        values = {key: value for key, (value, _) in merge_model_options(config, overrides).items()}
        values.update(head="mlm", vocab_size=data_contract.vocab_size, pad_token_id=data_contract.pad_token_id, num_classes=0)
        if pretrained:
            source = read_pretrained(pretrained, values.get("heads"))
            if source.config["vocab_size"] != data_contract.vocab_size:
                raise ConfigError(
                    f"the data's tokenizer has {data_contract.vocab_size} tokens but the pretrained model's vocabulary (its MLM "
                    f"decoder) has {source.config['vocab_size']}; use the pretrained folder's tokenizer (data.tokenizer)"
                )
            self.model = build_from_pretrained(source, **values)
        else:
            self.model = build_model(preset, **values)
        if self.model.config.modality != "text":
            raise ConfigError(f"preset {preset!r} reads images; masked-token pretraining needs a text (bert-*) preset")
        self.model.set_data_contract(data_contract)
        self.config = self.model.config
        tokenizer = data_contract.load_tokenizer()
        missing = [t for t in ("[MASK]", "[CLS]", "[SEP]", "[PAD]") if tokenizer.token_to_id(t) is None]
        if missing:
            raise ConfigError(f"the tokenizer has no {', '.join(missing)} token; masked-token pretraining needs a BERT-style vocabulary")
        self.mask_id = tokenizer.token_to_id("[MASK]")
        ids = [tokenizer.token_to_id(t) for t in SPECIAL_TOKENS if tokenizer.token_to_id(t) is not None]
        self.register_buffer("special_ids", torch.tensor(ids), persistent=False)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["vit_bert_model_config"] = self.config.to_dict()
        checkpoint["vit_bert_data"] = self.data_contract.to_dict()

    def _step(self, batch: dict, generator: torch.Generator | None) -> tuple[torch.Tensor, torch.Tensor]:
        ids, mask = batch["input_ids"], batch["attention_mask"]
        corrupted, chosen = mask_tokens(ids, mask, self.special_ids, self.mask_id, self.config.vocab_size, self.hparams.mask_prob, generator)
        features = self.model.forward_features(input_ids=corrupted, attention_mask=mask)
        logits = self.model.forward_head(features[chosen])  # (N, vocab): the chosen positions only
        targets = ids[chosen]
        loss = F.cross_entropy(logits.float(), targets)
        accuracy = (logits.argmax(dim=-1) == targets).float().mean()
        return loss, accuracy

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, accuracy = self._step(batch, None)
        if not torch.isfinite(loss):
            raise TrainingDivergedError(f"the masked-token loss became {float(loss)} at step {self.global_step}; lower model.lr (now {self.hparams.lr})")
        self.log("train_loss", loss, prog_bar=True, batch_size=len(batch["input_ids"]))
        self.log("train_acc", accuracy, on_step=False, on_epoch=True, batch_size=len(batch["input_ids"]))
        return loss

    def _evaluate(self, batch: dict, batch_idx: int, stage: str) -> None:
        generator = torch.Generator(device=self.device).manual_seed(batch_idx)  # the same masks every epoch
        loss, accuracy = self._step(batch, generator)
        size = len(batch["input_ids"])
        self.log(f"{stage}_loss", loss, prog_bar=stage == "val", batch_size=size)
        self.log(f"{stage}_acc", accuracy, prog_bar=stage == "val", batch_size=size)

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "val")

    def test_step(self, batch: dict, batch_idx: int) -> None:
        self._evaluate(batch, batch_idx, "test")

    def configure_optimizers(self):
        return adamw_warmup_cosine(self, self.model)
