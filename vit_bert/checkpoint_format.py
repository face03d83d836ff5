"""What a ``vit-bert fit`` checkpoint holds besides Lightning's own entries: written and read here, and nowhere else.

    "vit_bert_model_config"   a single-task model's resolved ModelConfig (dict)
    "vit_bert_data"           its DataContract (dict), or None
    "vit_bert_multitask"      a co-trained model's task -> {"config": ModelConfig dict, "data": DataContract dict}
    "<data module class>"     the data's position (Lightning stores a data module's state_dict under its class name),
                              a ``DataPosition``: {"order", "epoch", "consumed"} in a folder or file, {"order", "stream"}
                              in a prepared folder's shards

Writers: the tasks (``single_task_entries``, ``multitask_entries``) and the data modules (``DataPosition.to_state``).
Readers: the weights loader, the command line's resume checks, the text data module (the tokenizer a resumed run reads
with), through the functions below.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from .config import DataContract

MODEL_CONFIG = "vit_bert_model_config"
DATA_CONTRACT = "vit_bert_data"
MULTITASK = "vit_bert_multitask"


def single_task_entries(config: dict, contract: DataContract | None) -> dict:
    return {MODEL_CONFIG: config, DATA_CONTRACT: contract.to_dict() if contract is not None else None}


def multitask_entries(tasks: dict[str, tuple[dict, DataContract]]) -> dict:
    return {MULTITASK: {name: {"config": config, "data": contract.to_dict()} for name, (config, contract) in tasks.items()}}


def is_multitask(ckpt: dict) -> bool:
    return MULTITASK in ckpt


def is_training_checkpoint(ckpt) -> bool:
    """Whether ``ckpt`` (a loaded file) was written by vit-bert fit: weights, and a model config or a co-trained model's tasks."""
    return isinstance(ckpt, dict) and "state_dict" in ckpt and (ckpt.get(MODEL_CONFIG) is not None or MULTITASK in ckpt)


def model_config(ckpt: dict):
    """A single-task checkpoint's model config as stored (normally a dict), None for a co-trained one."""
    return ckpt.get(MODEL_CONFIG)


def model_modality(ckpt: dict) -> str | None:
    config = ckpt.get(MODEL_CONFIG)
    return config.get("modality") if isinstance(config, dict) else None


def checkpoint_contract(ckpt: dict) -> DataContract | None:
    """A single-task checkpoint's data contract; older checkpoints stored an untyped ``data_info`` dict."""
    if ckpt.get(DATA_CONTRACT) is not None:
        return DataContract.from_dict(ckpt[DATA_CONTRACT])
    legacy = (ckpt.get("hyper_parameters") or {}).get("data_info")
    if not legacy:
        return None
    fields = {"img_size" if k == "image_size" else k: v for k, v in legacy.items() if k != "num_classes"}
    return DataContract.from_dict({**fields, "tokenizer": ckpt.get("TextDataModule", {}).get("tokenizer")})


def task_entries(ckpt: dict) -> dict[str, tuple[dict, DataContract | None]]:
    """A co-trained checkpoint's task -> (model config dict, data contract)."""
    return {name: (entry["config"], DataContract.from_dict(entry["data"]) if entry.get("data") else None)
            for name, entry in ckpt[MULTITASK].items()}


def text_tokenizers(ckpt: dict) -> dict[str, str]:
    """The tokenizers (tokenizer.json text) a checkpoint's text models were trained with: task -> tokenizer; a single-task
    text model's under ''."""
    if MULTITASK in ckpt:
        return {name: contract.tokenizer for name, (_, contract) in task_entries(ckpt).items()
                if contract is not None and contract.modality == "text"}
    contract = checkpoint_contract(ckpt)
    return {"": contract.tokenizer} if contract is not None and contract.tokenizer is not None else {}


def model_state_dict(ckpt: dict) -> dict:
    """The model's weights, without the task's ``model.`` prefix (the task's other tensors, e.g. metrics, left out)."""
    return {k.removeprefix("model."): v for k, v in ckpt["state_dict"].items() if k.startswith("model.")}


@dataclass
class DataPosition:
    """Where in the training data a checkpoint was written. ``order``: what the order depends on besides the epoch (a
    checksum of the data, the seed, the batch size, the number of devices); then either the sampler's ``epoch`` and
    the samples of it ``consumed``, or a prepared folder's LitData loader state (``stream``)."""

    order: dict
    epoch: int | None = None
    consumed: int | None = None
    stream: dict | None = None

    def to_state(self) -> dict:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_state(cls, state: dict | None) -> "DataPosition | None":
        """None for an empty state (a checkpoint written before training took a batch, or with no training data)."""
        if not state:
            return None
        return cls(state.get("order", {}), state.get("epoch"), state.get("consumed"), state.get("stream"))

    @property
    def in_shards(self) -> bool:
        return self.stream is not None
