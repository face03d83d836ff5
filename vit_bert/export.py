"""ONNX export with a dynamic batch (and sequence length for text), checked with onnxruntime.

    vit_bert.export_onnx(model, "model.onnx")
    python -m vit_bert.export SOURCE model.onnx      # SOURCE: anything vit_bert.load_pretrained reads
                                                     # a co-trained model: model.<task>.onnx for each task
    vit-bert export SOURCE model.onnx                # the same
    vit-bert export SOURCE folder --format timm      # a timm Hub folder (timm.create_model("local-dir:" + folder))
    vit-bert export SOURCE folder --format transformers   # AutoModel.from_pretrained(folder)

Graph inputs / outputs:
    image: images (B, C, H, W) float32                    -> logits (B, num_classes)
    text:  input_ids (B, T) int64, attention_mask (B, T) int64 -> logits (B, num_classes)
                                                          (head="mlm": (B, T, vocab_size), defined at real tokens only)
A model that carries a data contract (train.py checkpoints, save_pretrained folders) writes it into
the file's metadata as JSON under ``vit_bert_data`` (``read_contract_metadata``). The file is written beside the
target and renamed over it when complete; an output that is the source, or a file in the source folder, is refused.
Needs the ``onnx`` extra: pip install "vit_bert[onnx]".
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import torch
from torch import nn

from .checkpoint_format import DATA_CONTRACT
from .config import DataContract
from .errors import ConfigError
from .model import TransformerClassifier, eval_mode
from .multitask import MultiTaskModel
from .typed_command import run_typed
from .weights.load import load_pretrained


CONTRACT_KEY = DATA_CONTRACT  # the ONNX metadata key: the checkpoint's own name for the contract
EXPORT_FORMATS = ("onnx", "timm", "transformers")


class _ImageGraph(nn.Module):
    def __init__(self, model: TransformerClassifier):
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(images)


class _TextGraph(nn.Module):
    def __init__(self, model: TransformerClassifier):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask)


def example_inputs(model: TransformerClassifier, batch_size: int = 2, seq_len: int = 16, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random inputs of the model's modality; text rows after the first are padded at the end."""
    config, generator = model.config, torch.Generator().manual_seed(seed)
    if config.modality == "image":
        return {"images": torch.randn(batch_size, config.in_chans, config.img_size, config.img_size, generator=generator)}
    seq_len = min(seq_len, config.max_len)
    input_ids = torch.randint(1, config.vocab_size, (batch_size, seq_len), generator=generator)
    attention_mask = torch.ones(batch_size, seq_len, dtype=torch.long)
    for row in range(1, batch_size):
        attention_mask[row, max(1, seq_len - row * 3):] = 0
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def export_onnx(model: TransformerClassifier, path: str | Path, opset: int = 18) -> Path:
    """Write ``model`` (eval mode, fast attention path) as ONNX with dynamic batch / sequence axes."""
    try:
        import onnxscript  # noqa: F401  (optional: the exporter needs it, the rest of vit_bert does not)
    except ImportError:
        raise ConfigError('ONNX export needs the onnx extra: pip install "vit_bert[onnx]"') from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.tmp-{os.getpid()}")  # renamed over the target once complete
    inputs = example_inputs(model, batch_size=2, seq_len=16)
    if model.config.modality == "image":
        graph, dynamic = _ImageGraph(model), {"images": {0: "batch"}}
    else:
        graph, dynamic = _TextGraph(model), {name: {0: "batch", 1: "sequence"} for name in inputs}
    with eval_mode(model):
        program = torch.onnx.export(
            graph.eval(), (), kwargs=inputs, dynamic_shapes=dynamic, input_names=list(inputs), output_names=["logits"],
            opset_version=opset, dynamo=True,
        )
    try:
        program.save(str(temporary))
        if model.data_contract is not None:
            write_contract_metadata(temporary, model.data_contract)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def check_output(source: str, output: Path) -> None:
    """Before any work: ``output`` is a file name, neither the source nor a file inside the source folder, in a folder that can be written."""
    target, origin = output.resolve(), Path(source).resolve()
    if target.is_dir():
        raise ConfigError(f"{output} is a folder; pass a file name for the ONNX file, e.g. {output / 'model.onnx'}")
    if Path(source).exists() and target == origin:
        raise ConfigError(f"{output} is the source itself: exporting would replace it; pass another file name")
    if origin.is_dir() and target.exists() and target.is_relative_to(origin):
        raise ConfigError(f"{output} is a file of the source folder {source}: exporting would replace it; write outside the folder")
    folder = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write {output}: {folder} is not a writable folder")


def write_contract_metadata(path: Path, contract: DataContract) -> None:
    """The data contract (class names, image size, mean and std, or max_length and tokenizer) as the ONNX
    model's ``vit_bert_data`` metadata, so a deployment reads inputs as training did."""
    import onnx  # optional: the onnx extra

    graph = onnx.load(str(path))
    entry = graph.metadata_props.add()
    entry.key, entry.value = CONTRACT_KEY, json.dumps(contract.to_dict())
    onnx.save(graph, str(path))


def read_contract_metadata(path: str | Path) -> DataContract | None:
    import onnx  # optional: the onnx extra

    values = {entry.key: entry.value for entry in onnx.load(str(path), load_external_data=False).metadata_props}
    return DataContract.from_dict(json.loads(values[CONTRACT_KEY])) if CONTRACT_KEY in values else None


def onnx_max_difference(model: TransformerClassifier, path: str | Path, inputs: dict[str, torch.Tensor]) -> float:
    """Run the ONNX file with onnxruntime and return max |ONNX - PyTorch| over the logits; per-token logits (a masked-token
    head) at the real tokens only: padding's are not defined (PyTorch's packed path leaves them 0, the graph computes some)."""
    import onnxruntime  # optional: the onnx extra

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (onnx_logits,) = session.run(["logits"], {name: tensor.numpy() for name, tensor in inputs.items()})
    with eval_mode(model), torch.no_grad():
        logits = model(**inputs)
    difference = (torch.from_numpy(onnx_logits) - logits).abs()
    if difference.ndim == 3 and "attention_mask" in inputs:
        difference = difference[inputs["attention_mask"].bool()]
    return float(difference.max())


def export(source: str, output: str, opset: int = 18, format: str = "onnx") -> None:
    """Write a model as ONNX (checked against onnxruntime at two batch sizes), or as a timm or transformers folder.

    Args:
        source: A .ckpt written by vit-bert fit, a save_pretrained folder, a Hugging Face BERT folder or a timm ViT file.
        output: The .onnx file to write (a co-trained model: one file per task, model.<task>.onnx), or the folder to
            write for format timm / transformers (a new one: an existing folder with files in it is refused).
        opset: The ONNX opset.
        format: onnx, or timm (loads with timm.create_model("local-dir:" + folder)), or transformers (AutoModel.from_pretrained(folder)).
    """
    if format not in EXPORT_FORMATS:
        raise ConfigError(f"--format {format}: expected one of {', '.join(EXPORT_FORMATS)}")
    if format != "onnx":
        write_library_folder(source, Path(output), format)
        return
    check_output(source, Path(output))
    model = load_pretrained(source)
    if isinstance(model, MultiTaskModel):  # one graph per task: model.onnx -> model.<task>.onnx
        out = Path(output)
        graphs = [(model.task_model(task), out.with_name(f"{out.stem}.{task}{out.suffix or '.onnx'}")) for task in model.tasks]
    else:
        graphs = [(model, Path(output))]
    for _, path in graphs:
        check_output(source, path)
    for single, path in graphs:
        export_onnx(single, path, opset)
        for batch_size in (1, 3):
            diff = onnx_max_difference(single, path, example_inputs(single, batch_size, seq_len=9 + batch_size))
            print(f"onnxruntime vs PyTorch, batch {batch_size}: max |difference| = {diff:.2e}")
        print(f"wrote {path}")


def write_library_folder(source: str, output: Path, format: str) -> None:
    """``model.save_pretrained(folder, format=...)`` into a new folder, written beside it and renamed into place when
    complete, so that nothing is left half-written; the source and anything in its folder are never touched."""
    target, origin = output.resolve(), Path(source).resolve()
    if target == origin or target.is_relative_to(origin) or (origin.is_dir() and origin.is_relative_to(target)):
        raise ConfigError(f"{output} is or holds the source {source}: writing there would replace it; pass a new folder")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(f"{output} already exists{' and holds files' if target.is_dir() else ' as a file'}; pass a new folder")
    folder = next(p for p in (target.parent, *target.parent.parents) if p.exists())
    if not folder.is_dir() or not os.access(folder, os.W_OK):
        raise ConfigError(f"cannot write {output}: {folder} is not a writable folder")
    model = load_pretrained(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    try:
        model.save_pretrained(temporary, format=format)
        if target.exists():
            target.rmdir()  # empty, checked above
        os.replace(temporary, target)
    finally:
        if temporary.exists():
            shutil.rmtree(temporary)
    print(f"wrote {output} ({format})")


def main(argv: list[str] | None = None) -> None:
    run_typed(export, argv, prog="vit-bert export")


if __name__ == "__main__":
    main()
