"""The command lines: ``python train.py`` and ``vit-bert`` (LightningCLI over ClassificationTask and a data module).

    python train.py                                  # the quickstart config: digits, offline, minutes
    python train.py --config configs/cifar10_vit.yaml --data.root ~/cifar10 --trainer.max_epochs 50
    python train.py --config configs/quickstart.yaml --ckpt_path last   # resume the newest run of that name
    python train.py predict CHECKPOINT INPUT [INPUT ...]

    vit-bert fit [ARGS]          # the same as python train.py [ARGS]
    vit-bert test --config C --ckpt_path CKPT     # test a checkpoint on the config's data
    vit-bert predict | export | viz ...           # see each one's --help
    vit-bert configs                              # the shipped configs; --config NAME finds one from any directory

``fit`` fits, then tests the best checkpoint and prints the test accuracy and the
checkpoint's path. Logs (CSV) and checkpoints go to runs/<config name>/version_N/.
User errors (bad data, bad config) end with one line on stderr and exit code 2.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import yaml
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.cli import LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities.exceptions import SIGTERMException

from . import export, predict
from .data.text import checkpoint_holds_tokenizer
from .errors import CheckpointError, ConfigError, SourceNotFoundError, WeightsMismatchError, run_command
from .shipped_configs import resolve_config, shipped_configs
from .tokenizer import tokenizer_file_in
from .training.checkpoint_io import AtomicCheckpointIO
from .training.resume import PREEMPTED_EXIT, RandomState, LastOnStop, last_checkpoints
from .training.masked import MaskedTokenTask
from .training.multitask import MultiTaskClassification
from .training.task import ClassificationTask
from .viz import __main__ as viz
from .weights.files import load_pickle_safely
from .weights.load import MULTITASK_KEY, check_weights_fit

DEFAULT_CONFIG = "quickstart"  # a shipped config, found by name from any directory


class _NoAdverts(logging.Filter):
    """Lightning's "Tip: try installing litlogger" line is an advertisement, not information about the run."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("💡 Tip:")


@contextmanager
def known_noise_silenced():
    """Silence what a clean run would otherwise print that looks like trouble but is not the user's to fix."""
    rank_zero_log = logging.getLogger("lightning.pytorch.utilities.rank_zero")
    advert_filter = _NoAdverts()
    rank_zero_log.addFilter(advert_filter)
    try:
        with warnings.catch_warnings():
            # Lightning 2.6 calls a torch pytree API that torch 2.14 deprecates: nothing a user can change.
            warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
            # The data module stores and restores its place in the epoch itself (data/base.py), so
            # Lightning's warning that the loader cannot resume mid-epoch does not apply.
            warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
            yield
    finally:
        rank_zero_log.removeFilter(advert_filter)


class VitBertCLI(LightningCLI):
    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--ckpt_path", type=str | None, default=None, help="Checkpoint to resume from; 'last' = the newest last.ckpt of this run name.")
        parser.add_argument("--run_name", type=str | None, default=None, help="Folder name under runs/ (default: the config file's name).")
        parser.add_argument("--runs_dir", type=str, default="runs", help="Where logs and checkpoints go.")
        parser.add_argument("--task", type=str, default="classification", help="What the model learns: classification, masked_tokens (masked-token pretraining) or multitask (one encoder co-trained on several tasks).")
        parser.add_argument(
            "--last_every_n_steps", type=int | None, default=None,
            help="Also write last.ckpt every N training steps (it is always written after each validation).",
        )
        parser.add_lightning_class_args(ModelCheckpoint, "checkpoint")
        parser.set_defaults(
            {
                **{f"checkpoint.{key}": value for key, value in self.model_class.best_checkpoint.items()},
                "checkpoint.save_last": False,  # last.ckpt comes from the callback below, every time
                "checkpoint.auto_insert_metric_name": False,
            }
        )
        # What the model must match (classes, channels, size, vocabulary) comes from the data.
        parser.link_arguments("data.contract", "model.data_contract", apply_on="instantiate")

    def parse_arguments(self, parser, args) -> None:
        # ``args`` is always this process's own argument list (run() adds the default config): parse it
        # directly, without LightningCLI's warning about args given beside sys.argv.
        self.config = parser.parse_args(args)

    def before_instantiate_classes(self) -> None:
        pretrained, data_args = self.config.model.get("pretrained"), self.config.data.get("init_args")
        if data_args is not None and "tasks" in data_args:  # co-training: each text task's data module
            for spec in data_args.tasks.values():
                self._choose_tokenizer(pretrained, spec.get("init_args"))
        else:
            self._choose_tokenizer(pretrained, data_args)

    def _choose_tokenizer(self, pretrained: str | None, data_args) -> None:
        if data_args is None or "tokenizer" not in data_args or data_args.tokenizer:
            return
        # A resumed text run reads its data with the checkpoint's tokenizer (training a new one could
        # give other ids: the tokenizers library's WordPiece trainer breaks ties in a hash-map order).
        if self.config.get("ckpt_path"):
            data_args.tokenizer = self.resolve_ckpt_path()
        # A pretrained text model brings its tokenizer: the data module uses it unless told otherwise.
        # (An image model brings none: co-training from it, the text tasks train their own.)
        elif pretrained and (checkpoint_holds_tokenizer(Path(pretrained)) if Path(pretrained).suffix == ".ckpt"
                             else tokenizer_file_in(pretrained) is not None):
            data_args.tokenizer = str(pretrained)

    @property
    def run_name(self) -> str:
        if self.config.get("run_name"):
            return self.config.run_name
        configs = self.config.get("config") or []
        return Path(str(configs[-1])).stem if configs else "vit_bert"

    def instantiate_trainer(self, **kwargs):
        if self.config.trainer.get("logger") in (None, True):
            kwargs["logger"] = CSVLogger(self.config.runs_dir, name=self.run_name)
        plugins = self.config_init.trainer.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):  # e.g. SLURMEnvironment alone: still atomic saves
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        trainer = super().instantiate_trainer(**kwargs)
        trainer.callbacks.extend([*last_checkpoints(self.config.get("last_every_n_steps")), RandomState(), LastOnStop()])
        return trainer

    def resolve_ckpt_path(self) -> str | None:
        path = self.config.get("ckpt_path")
        if path != "last":
            if path and not Path(path).is_file():
                raise SourceNotFoundError(f"--ckpt_path {path} does not exist")
            return path
        found = sorted(Path(self.config.runs_dir, self.run_name).glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise SourceNotFoundError(f"--ckpt_path last: no last.ckpt under {self.config.runs_dir}/{self.run_name}/version_*/checkpoints/")
        return str(found[-1])


def _a(modality: str) -> str:
    return f"{'an' if modality == 'image' else 'a'} {modality}"


def check_resume_checkpoint(path: str, task: L.LightningModule) -> int:
    """Before Lightning resumes from ``path``: refuse corrupt, unsafe or mismatching files with one clear message.

    Returns the checkpoint's global step."""
    ckpt = load_pickle_safely(path)
    config = ckpt.get("vit_bert_model_config", ckpt.get(MULTITASK_KEY)) if isinstance(ckpt, dict) else None
    if config is None or "state_dict" not in ckpt:
        raise CheckpointError(f"--ckpt_path {path} is not a checkpoint written by train.py")
    if (MULTITASK_KEY in ckpt) != isinstance(task, MultiTaskClassification):
        kinds = ("a co-trained (multi-task)", "a single-task")
        raise CheckpointError(f"--ckpt_path {path} holds {kinds[MULTITASK_KEY not in ckpt]} model, but this run trains "
                              f"{kinds[not isinstance(task, MultiTaskClassification)]} one")
    if MULTITASK_KEY not in ckpt and config["modality"] != task.config.modality:
        raise CheckpointError(
            f"--ckpt_path {path} holds {_a(config['modality'])} model, but this run trains {_a(task.config.modality)} model"
        )
    try:
        check_weights_fit(task, ckpt["state_dict"])
    except WeightsMismatchError as err:
        raise CheckpointError(f"--ckpt_path {path} does not fit this run's model ({err})") from None
    return int(ckpt.get("global_step", 0))


def _headline(task: L.LightningModule, results: list[dict]) -> str:
    """The test figure train.py prints, with one line per task after it for a co-trained model."""
    key, name = task.headline_metric
    found = {k: v for result in results for k, v in result.items()}
    lines = [f"test {name}: {found.get(key, float('nan')):.4f}"]
    lines += [f"  {k}: {v:.4f}" for k, v in found.items() if k.startswith(f"{key}/")]
    return "\n".join(lines)


def fit_and_test(cli: VitBertCLI) -> None:
    trainer = cli.trainer
    ckpt_path = cli.resolve_ckpt_path()
    start_step = check_resume_checkpoint(ckpt_path, cli.model) if ckpt_path else 0  # steps done before this run
    start = time.perf_counter()
    try:
        with known_noise_silenced():
            trainer.fit(cli.model, cli.datamodule, ckpt_path=ckpt_path, weights_only=True)  # plain tensors: nothing to unpickle
    except SIGTERMException:
        # LastOnStop wrote last.ckpt at the step boundary Lightning stopped at.
        if trainer.is_global_zero:
            print(f"stopped by SIGTERM after step {trainer.global_step}; resume with --ckpt_path last", file=sys.stderr)
        sys.exit(PREEMPTED_EXIT)
    seconds, steps = time.perf_counter() - start, trainer.global_step - start_step
    samples = steps * cli.datamodule.hparams.batch_size * trainer.world_size * trainer.accumulate_grad_batches
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    with known_noise_silenced():
        results = trainer.test(cli.model, cli.datamodule, ckpt_path=best or None, verbose=False, weights_only=True)
    if trainer.is_global_zero:
        print(f"fit: {steps} steps in {seconds:.0f} s, {samples / max(seconds, 1e-9):.0f} training samples/s (validation included)")
        print(_headline(cli.model, results))
        print(f"checkpoint: {best or '(none saved; tested the final weights)'}")


TASKS = {"classification": ClassificationTask, "masked_tokens": MaskedTokenTask, "multitask": MultiTaskClassification}


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML keeps the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{key_node.start_mark.name} line {key_node.start_mark.line + 1}: {key!r} appears twice in one "
                                  "mapping (two tasks with the same name?); give each key once")
            seen.add(key)
        return super().construct_mapping(node, deep)


def read_config(path: Path) -> dict:
    """A YAML config file as a dict; a key given twice in one mapping is an error."""
    with path.open(encoding="utf-8") as stream:
        loaded = yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
    return loaded if isinstance(loaded, dict) else {}


def task_name(argv: list[str]) -> str:
    """``--task NAME`` on the command line, else the last config file's top-level ``task:``, else classification.

    The task is the LightningModule class, so it is chosen before LightningCLI parses the rest."""
    for index, arg in enumerate(argv):
        if arg == "--task" and index + 1 < len(argv):
            name = argv[index + 1]
            break
        if arg.startswith("--task="):
            name = arg.split("=", 1)[1]
            break
    else:
        configs = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--config"] + [a.split("=", 1)[1] for a in argv if a.startswith("--config=")]
        found = [read_config(Path(c)) for c in configs if Path(c).is_file()]
        name = next((c["task"] for c in reversed(found) if isinstance(c, dict) and "task" in c), "classification")
    if name not in TASKS:
        raise ConfigError(f"unknown task {name!r}; expected one of {', '.join(TASKS)}")
    return name


def with_config_paths(argv: list[str]) -> list[str]:
    """Every ``--config NAME_OR_PATH`` as a path: a shipped config's name (``quickstart``, ``configs/quickstart.yaml``)
    finds the file inside the package; the quickstart config when none is given."""
    if not any(a == "--config" or a.startswith("--config=") for a in argv):
        argv = ["--config", DEFAULT_CONFIG, *argv]
    out = []
    for index, arg in enumerate(argv):
        if index and argv[index - 1] == "--config":
            arg = resolve_config(arg)
        elif arg.startswith("--config="):
            arg = "--config=" + resolve_config(arg.split("=", 1)[1])
        out.append(arg)
    return out


def build_cli(argv: list[str], callbacks: list | None = None) -> VitBertCLI:
    """Parse ``argv`` (the quickstart config when none is given) and instantiate model, data and trainer."""
    argv = with_config_paths(argv)
    try:
        with known_noise_silenced():
            return VitBertCLI(
                TASKS[task_name(argv)],
                L.LightningDataModule,
                subclass_mode_data=True,
                run=False,
                args=argv,
                save_config_kwargs={"overwrite": True},
                trainer_defaults={"callbacks": list(callbacks or [])},
            )
    except MisconfigurationException as err:  # Lightning's word for a trainer setting that cannot work
        raise ConfigError(str(err)) from None


def run(argv: list[str], callbacks: list | None = None) -> VitBertCLI:
    """Parse, fit, test; returns the CLI (model, datamodule, trainer) for callers that want them.

    ``callbacks`` join the trainer's (e.g. a benchmark's timer)."""
    cli = build_cli(argv, callbacks)
    fit_and_test(cli)
    return cli


def test_checkpoint(argv: list[str]) -> None:
    """``vit-bert test --config C --ckpt_path CKPT``: test one checkpoint on the config's test split."""
    cli = build_cli(argv)
    ckpt_path = cli.resolve_ckpt_path()
    if not ckpt_path:
        raise ConfigError("vit-bert test needs --ckpt_path (a .ckpt file, or 'last' for the newest run of this config)")
    check_resume_checkpoint(ckpt_path, cli.model)
    with known_noise_silenced():
        results = cli.trainer.test(cli.model, cli.datamodule, ckpt_path=ckpt_path, verbose=False, weights_only=True)
    if cli.trainer.is_global_zero:
        print(_headline(cli.model, results))
        print(f"checkpoint: {ckpt_path}")


def _train_py(argv: list[str]) -> None:
    if argv and argv[0] == "predict":
        return predict.predict(argv[1:])
    run(argv)


def main(argv: list[str] | None = None) -> None:
    """``python train.py [ARGS]`` fits and tests; ``python train.py predict CHECKPOINT INPUT ...`` classifies."""
    run_command(_train_py, argv)


def list_configs(argv: list[str]) -> None:
    """``vit-bert configs``: the shipped configs, each usable by name (``--config NAME``) from any directory."""
    if argv in (["-h"], ["--help"]):
        print("usage: vit-bert configs\n\nLists the configs that ship with vit_bert; --config NAME uses one from any directory.")
        return
    if argv:
        raise ConfigError(f"vit-bert configs takes no arguments; got {' '.join(argv)}")
    names = shipped_configs()
    width = max(map(len, names))
    for name, description in names.items():
        print(f"{name:<{width}}  {description}")


COMMANDS = {
    "fit": (run, "fit, then test the best checkpoint (the same as python train.py)"),
    "test": (test_checkpoint, "test a checkpoint: --config C --ckpt_path CKPT"),
    "predict": (predict.predict, "classify images or sentences with a checkpoint or model folder"),
    "export": (export.export, "write a model as ONNX, checked against onnxruntime"),
    "viz": (viz.viz, "draw a model's attention for one input, and trace one head"),
    "configs": (list_configs, "list the shipped configs (use one by name: --config quickstart)"),
}


def _vit_bert(argv: list[str]) -> None:
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        usage = "\n".join(f"  {name:<8} {text}" for name, (_, text) in COMMANDS.items())
        print(f"usage: vit-bert COMMAND [ARGS]   (vit-bert COMMAND --help for its options)\n\ncommands:\n{usage}")
        if argv and argv[0] not in ("-h", "--help"):
            raise ConfigError(f"unknown command {argv[0]!r}; expected one of {', '.join(COMMANDS)}")
        return
    COMMANDS[argv[0]][0](argv[1:])


def vit_bert_main(argv: list[str] | None = None) -> None:
    """The ``vit-bert`` console script."""
    run_command(_vit_bert, argv)
