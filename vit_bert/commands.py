"""The ``vit-bert`` command and ``python train.py``: a table of subcommands, each imported only when it runs,
so that ``vit-bert --help`` answers without loading torch or Lightning.

    vit-bert fit | validate | test ARGS    LightningCLI (cli.py): the trainer's subcommands over a task and a data module
    vit-bert predict | prepare | export | viz | explore ARGS   typed functions (typed_command.py), jsonargparse like LightningCLI
    vit-bert configs                       the shipped configs
    python train.py ARGS                   vit-bert fit ARGS;  python train.py predict ARGS: vit-bert predict ARGS
"""

from __future__ import annotations

import importlib
import sys

from .errors import ConfigError, run_command
from .typed_command import run_typed

LIGHTNING = "vit_bert.cli:lightning_main"  # takes the subcommand with its arguments
COMMANDS = {  # name -> (what runs it, one line of help)
    "fit": (LIGHTNING, "fit, then test the best checkpoint (python train.py is the same)"),
    "validate": (LIGHTNING, "evaluate a checkpoint on the config's validation split: --config C --ckpt_path CKPT"),
    "test": (LIGHTNING, "evaluate a checkpoint on the config's test split: --config C --ckpt_path CKPT"),
    "predict": ("vit_bert.predict:predict", "classify images or sentences with a checkpoint or model folder"),
    "prepare": ("vit_bert.data.prepare:prepare", "write images or texts as LitData shards, for --data.root on any number of processes"),
    "export": ("vit_bert.export:export", "write a model as ONNX, checked against onnxruntime"),
    "viz": ("vit_bert.viz.__main__:viz", "draw a model's attention (PNG), trace one head, or write the explorer page (--html)"),
    "explore": ("vit_bert.viz.server:serve", "serve the attention explorer on 127.0.0.1: type a sentence or upload an image"),
    "configs": ("vit_bert.shipped_configs:configs", "list the shipped configs (use one by name: --config quickstart)"),
}
USAGE = "usage: vit-bert COMMAND [ARGS]   (vit-bert COMMAND --help for its options)\n\ncommands:\n" + "\n".join(
    f"  {name:<9} {text}" for name, (_, text) in COMMANDS.items()
)


def _target(spec: str):
    module, name = spec.split(":")
    return getattr(importlib.import_module(module), name)


def _vit_bert(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return
    if argv[0] not in COMMANDS:
        print(USAGE, file=sys.stderr)
        raise ConfigError(f"unknown command {argv[0]!r}; expected one of {', '.join(COMMANDS)}")
    spec = COMMANDS[argv[0]][0]
    if spec == LIGHTNING:
        _target(spec)(argv)
    else:
        run_typed(_target(spec), argv[1:], prog=f"vit-bert {argv[0]}")


def main(argv: list[str] | None = None) -> None:
    """The ``vit-bert`` console script."""
    run_command(_vit_bert, argv)


def train_py(argv: list[str] | None = None) -> None:
    """``python train.py ARGS`` = ``vit-bert fit ARGS``; ``python train.py predict ARGS`` = ``vit-bert predict ARGS``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    main(argv if argv[:1] == ["predict"] else ["fit", *argv])
