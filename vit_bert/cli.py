"""vit-bert fit | validate | test: Lightning's LightningCLI over a vit_bert task and a data module.

    vit-bert fit                                           # the quickstart config (python train.py is the same)
    vit-bert fit --config cifar10_vit --data.root ~/cifar10 --trainer.max_epochs 50
    vit-bert fit --config quickstart --ckpt_path last      # resume the newest run of that name
    vit-bert test --config quickstart --ckpt_path runs/quickstart/version_0/checkpoints/last.ckpt

The task is the model's class: ``model: class_path: ClassificationTask`` (the default), ``MaskedTokenTask``
or ``MultiTaskClassification``, with its arguments under ``init_args`` (or beside ``class_path`` on the
command line: ``--model.lr 0.001``). ``--config`` takes a path or a shipped config's name.
``fit`` fits, then tests the best checkpoint and prints the test figure and the checkpoint's path.
Logs (CSV) and checkpoints go to runs/<config name>/version_N/.
"""

from __future__ import annotations

import inspect
import logging
import sys
import time
import warnings
from contextlib import contextmanager
from pathlib import Path

import lightning as L
import yaml
from jsonargparse import ActionConfigFile
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.cli import LightningArgumentParser, LightningCLI
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.plugins.io import CheckpointIO
from lightning.pytorch.utilities import rank_zero_only
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .data.image import ImageDataModule
from .data.multitask import MultiTaskDataModule
from .data.text import TextDataModule, checkpoint_holds_tokenizer
from .errors import CheckpointError, ConfigError, SourceNotFoundError, VitBertError, WeightsMismatchError
from .config import ModelConfig
from .shipped_configs import resolve_config
from .tokenizer import tokenizer_file_in
from .typed_command import OneLineErrors
from .training import ClassificationTask, MaskedTokenTask, MultiTaskClassification, VitBertTask
from .training.base import best_checkpoint
from .training.checkpoint_io import AtomicCheckpointIO
from .training.resume import PREEMPTED_EXIT, LastOnStop, RandomState, last_checkpoints
from .weights.files import load_pickle_safely
from .checkpoint_format import is_multitask, is_training_checkpoint, model_modality
from .weights.load import PretrainedTasks, check_weights_fit, read_pretrained

DEFAULT_CONFIG = "quickstart"  # a shipped config, found by name from any directory
DEFAULT_TASK = f"{ClassificationTask.__module__}.{ClassificationTask.__name__}"
TASKS = (ClassificationTask, MaskedTokenTask, MultiTaskClassification)  # the classes model.class_path names


RUNS_DIR = "runs"  # --runs_dir's default

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
            # A prepared folder's StreamingDataset gives each worker its own samples (data/streams.py): its length holds.
            warnings.filterwarnings("ignore", message="Your `IterableDataset` has `__len__` defined")
            yield
    finally:
        rank_zero_log.removeFilter(advert_filter)


@contextmanager
def evaluation_noise_silenced():
    """``known_noise_silenced``, and: evaluating a checkpoint needs none of the training run's callbacks (its best-checkpoint
    choice, its folder), so Lightning's notes that they are absent or moved, which concern resuming training, are dropped."""
    with known_noise_silenced(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Be aware that when using `ckpt_path`, callbacks used to create the checkpoint")
        warnings.filterwarnings("ignore", message="The dirpath has changed from")
        yield


class _StrictLoader(yaml.SafeLoader):
    """YAML that refuses a key given twice in one mapping (PyYAML, and so jsonargparse, keep the last one silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise ConfigError(f"{key_node.start_mark.name} line {key_node.start_mark.line + 1}: {key!r} appears twice in one "
                                  "mapping (two tasks with the same name?); give each key once")
            seen.add(key)
        return super().construct_mapping(node, deep)


class ConfigFile(ActionConfigFile):
    """``--config NAME_OR_PATH``: a file, or a shipped config's name (``quickstart``); a key given twice is an error."""

    def __call__(self, parser, cfg, values, option_string=None):
        path = resolve_config(values)
        try:
            with open(path, encoding="utf-8") as stream:
                loaded = yaml.load(stream, Loader=_StrictLoader)  # noqa: S506 (a SafeLoader subclass)
        except yaml.MarkedYAMLError as err:
            mark = err.problem_mark or err.context_mark
            raise ConfigError(f"--config {values}: not valid YAML at line {mark.line + 1}, column {mark.column + 1} of {path}: "
                              f"{err.problem or err.context}") from None
        except UnicodeDecodeError as err:
            raise ConfigError(f"--config {values}: {path} is not UTF-8 text (byte {err.start})") from None
        if isinstance(loaded, dict) and "task" in loaded:
            raise ConfigError(f"--config {values}: the top-level 'task: {loaded['task']}' key is gone; the task is the model's class "
                              "now: model: {class_path: MaskedTokenTask, init_args: {...}} (or MultiTaskClassification)")
        return super().__call__(parser, cfg, path, option_string)


def _parameters(*functions) -> tuple[str, ...]:
    return tuple(dict.fromkeys(name for f in functions for name in inspect.signature(f).parameters if name != "self"))


class VitBertParser(OneLineErrors, LightningArgumentParser):
    """LightningCLI's parser, whose errors are one line; an unknown option names the closest of its group's."""

    known_options = {
        "model.config": tuple(ModelConfig.field_names()),
        "model": _parameters(*(task.__init__ for task in TASKS)),
        "data": _parameters(ImageDataModule.__init__, TextDataModule.__init__, MultiTaskDataModule.__init__),
        "trainer": _parameters(L.Trainer.__init__),
        "": ("config", "run_name", "runs_dir", "last_every_n_steps", "ckpt_path", "seed_everything", "model", "data", "trainer"),
    }


class VitBertCLI(LightningCLI):
    def __init__(self, args: list[str], *, run: bool = True, callbacks: list | None = None):
        """Parse ``args`` (``fit ...``, ``validate ...``, ``test ...``; with ``run=False``, the fit arguments alone, to
        build model, data and trainer without running); ``callbacks`` join the trainer's (e.g. a benchmark's timer)."""
        try:
            with known_noise_silenced():
                super().__init__(
                    VitBertTask, L.LightningDataModule, subclass_mode_model=True, subclass_mode_data=True, args=args, run=run,
                    auto_configure_optimizers=False,  # each task has its own configure_optimizers
                    save_config_kwargs={"overwrite": True}, trainer_defaults={"callbacks": list(callbacks or [])},
                )
        except MisconfigurationException as err:  # Lightning's word for a trainer setting that cannot work
            raise ConfigError(str(err)) from None
        except ValueError as err:  # jsonargparse reports a task's own error as a Union subtype that did not validate
            raise _vit_bert_error_in(err) or err

    def parse_arguments(self, parser, args) -> None:
        # ``args`` is always this process's own argument list: parse it directly, without LightningCLI's
        # warning about args given beside sys.argv (pytest's, a notebook kernel's).
        self.config = parser.parse_args(args)
        # --ckpt_path 'last' becomes a file, and a corrupt, unsafe or foreign file stops with one line here,
        # before LightningCLI reads the checkpoint's hyperparameters into the config.
        ckpt_path = self.resolve_ckpt_path()
        if ckpt_path:
            read_checkpoint(ckpt_path)
            self.config[self.config.subcommand].ckpt_path = ckpt_path

    @staticmethod
    def subcommands() -> dict[str, set[str]]:
        # vit-bert predict is vit_bert's own (predict.py); every checkpoint is read with weights_only=True.
        return {name: {*skipped, "weights_only"} for name, skipped in LightningCLI.subcommands().items() if name != "predict"}

    def init_parser(self, **kwargs):
        parser = VitBertParser(**kwargs)
        parser.add_argument("-c", "--config", action=ConfigFile, help="A config file, or a shipped config's name (vit-bert configs lists them).")
        return parser

    def add_arguments_to_parser(self, parser) -> None:
        parser.add_argument("--run_name", type=str | None, default=None, help="Folder name under runs/ (default: the config file's name).")
        parser.add_argument("--runs_dir", type=str, default=RUNS_DIR,
                            help="Where logs and checkpoints go (--trainer.default_root_dir, Lightning's name, says the same).")
        parser.add_argument(
            "--last_every_n_steps", type=int | None, default=None,
            help="Also write last.ckpt every N training steps (it is always written after each validation).",
        )
        parser.set_defaults({"model": {"class_path": DEFAULT_TASK}})
        # What the model must match (classes, channels, size, vocabulary) comes from the data.
        parser.link_arguments("data.contract", "model.init_args.data_contract", apply_on="instantiate")

    def _parse_ckpt_path(self) -> None:
        """LightningCLI 2.6 would replace the parsed model arguments with the checkpoint's hyperparameters, so that a
        flag given beside --ckpt_path would be dropped silently. Here the config and flags build the model, and the
        checkpoint must fit it (``check_resume_checkpoint``: modality, kind, every tensor's shape), or the run stops."""

    def setting(self, key: str, config=None):
        """A top-level setting of the subcommand being run (or of the run=False parse), from ``config`` (default: the parsed one).

        ``--ckpt_path`` is the trainer method's own argument, so it exists in subcommands only."""
        config = self.config if config is None else config
        return config.get(str(config.get("subcommand")), config).get(key)

    def before_instantiate_classes(self) -> None:
        pretrained, data_args = self.setting("model").init_args.get("pretrained"), self.setting("data").get("init_args")
        if data_args is not None and "tasks" in data_args:  # co-training: each text task's data module
            for spec in data_args.tasks.values():
                self._choose_tokenizer(pretrained, spec.get("init_args"))
        else:
            self._choose_tokenizer(pretrained, data_args)
            self._describe_model_to_images(self.setting("model").init_args, data_args)

    @staticmethod
    def _describe_model_to_images(model_args, data_args) -> None:
        """An image data module reads the model's own data config, as timm's ``resolve_data_config(args, model=model)``
        does: the input size of its preset or weights, and pretrained weights' mean, std, crop and filter."""
        if data_args is None or "model_data_config" not in data_args or data_args.model_data_config or "preset" not in model_args:
            return
        fields = {key: value for key, value in dict(model_args.get("config") or {}).items() if value is not None}
        if model_args.get("pretrained"):
            # the fields a bare file does not store (heads, act); the head is the model's business, not the data's
            source = read_pretrained(model_args.pretrained, fields, head="replace")
            if isinstance(source, PretrainedTasks):
                return  # the model stops: a multi-task source is loaded whole, then one task taken
            described = {"img_size": source.config.get("img_size")}
            if source.data_contract is not None and source.data_contract.modality == "image":
                c = source.data_contract
                described = {"img_size": c.img_size, "mean": c.mean, "std": c.std, "crop_pct": c.crop_pct, "crop_mode": c.crop_mode,
                             "interpolation": c.interpolation}
            elif source.config.get("modality") == "image" and data_args.get("mean") is None:
                raise ConfigError(
                    f"--model.pretrained {model_args.pretrained} does not say how its images were normalised (a bare weights file); "
                    "pass the mean and std it was trained with, e.g. --data.mean [0.5,0.5,0.5] --data.std [0.5,0.5,0.5] for timm's "
                    "augreg ViTs or [0.485,0.456,0.406] / [0.229,0.224,0.225] for ImageNet's, or load it from a timm model or folder"
                )
        else:
            described = {"img_size": ModelConfig.from_name(model_args.preset).img_size}
        if fields.get("img_size"):
            described["img_size"] = fields.get("img_size")
        data_args.model_data_config = described

    def _choose_tokenizer(self, pretrained: str | None, data_args) -> None:
        if data_args is None or "tokenizer" not in data_args or data_args.tokenizer:
            return
        # A resumed text run reads its data with the checkpoint's tokenizer (training a new one could
        # give other ids: the tokenizers library's WordPiece trainer breaks ties in a hash-map order).
        if self.setting("ckpt_path"):
            data_args.tokenizer = self.resolve_ckpt_path()
        # A pretrained text model brings its tokenizer: the data module uses it unless told otherwise.
        # (An image model brings none: co-training from it, the text tasks train their own.)
        elif pretrained and (checkpoint_holds_tokenizer(Path(pretrained)) if Path(pretrained).suffix == ".ckpt"
                             else tokenizer_file_in(pretrained) is not None):
            data_args.tokenizer = str(pretrained)

    @property
    def best_checkpoint(self) -> str:
        """The path of the best checkpoint this run wrote (chosen on the task's ``monitor``), '' when none."""
        return best_checkpoint(self.trainer, self.model)

    @property
    def run_name(self) -> str:
        if self.setting("run_name"):
            return self.setting("run_name")
        configs = self.setting("config") or []
        return Path(str(configs[-1])).stem if configs else "vit_bert"

    @property
    def runs_dir(self) -> str:
        """Where logs and checkpoints go: --runs_dir, or Lightning's --trainer.default_root_dir when that is the one given."""
        runs, root = self.setting("runs_dir"), (self.setting("trainer") or {}).get("default_root_dir")
        if root is not None and str(root) != runs and runs != RUNS_DIR:
            raise ConfigError(f"--trainer.default_root_dir {root} and --runs_dir {runs} name two places for the runs; give one of them")
        chosen = runs if root is None or str(root) == runs else str(root)
        if "://" in chosen:  # else a local folder named "s3:" would silently hold the run
            raise ConfigError(f"the runs folder {chosen} is a URL; checkpoints are written to a temporary file and renamed into place, "
                              "which object storage cannot do: give a local or mounted shared folder (NFS, a FUSE mount of the bucket)")
        return chosen

    def instantiate_trainer(self, **kwargs):
        trainer_args = self.setting("trainer", self.config_init)
        if trainer_args.get("logger") in (None, True):
            # rank 0 claims the version folder; other DDP ranks write nothing there and get rank 0's paths by broadcast
            version = claim_version(Path(self.runs_dir, self.run_name)) if rank_zero_only.rank == 0 else None
            kwargs["logger"] = CSVLogger(self.runs_dir, name=self.run_name, version=version)
        plugins = trainer_args.get("plugins") or []
        plugins = list(plugins) if isinstance(plugins, (list, tuple)) else [plugins]
        if not any(isinstance(p, CheckpointIO) for p in plugins):  # e.g. SLURMEnvironment alone: still atomic saves
            kwargs["plugins"] = [*plugins, AtomicCheckpointIO()]
        # Given to the Trainer itself, so that it adds no default ModelCheckpoint for the task's to replace.
        self.trainer_defaults["callbacks"] = [*self.trainer_defaults.get("callbacks", []), *last_checkpoints(self.setting("last_every_n_steps")),
                                              RandomState(), LastOnStop()]
        return super().instantiate_trainer(**kwargs)

    def resolve_ckpt_path(self) -> str | None:
        path, runs = self.setting("ckpt_path"), self.runs_dir
        if path != "last":
            if path and not Path(path).is_file():
                raise SourceNotFoundError(f"--ckpt_path {path} does not exist")
            return path
        found = sorted(Path(runs, self.run_name).glob("version_*/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
        if not found:
            raise SourceNotFoundError(f"--ckpt_path last: no last.ckpt under {runs}/{self.run_name}/version_*/checkpoints/")
        return str(found[-1])

    # The subcommands: LightningCLI calls these in place of the trainer's methods of the same names.

    def fit(self, model: VitBertTask, datamodule: L.LightningDataModule, **_) -> None:
        """Fit (resuming from --ckpt_path), then test the best checkpoint; print the figures and its path."""
        trainer, ckpt_path = self.trainer, self.resolve_ckpt_path()
        start_step = check_resume_checkpoint(ckpt_path, model) if ckpt_path else 0  # steps done before this run
        start = time.perf_counter()
        try:
            with known_noise_silenced():
                trainer.fit(model, datamodule, ckpt_path=ckpt_path, weights_only=True)  # plain tensors: nothing to unpickle
        except SIGTERMException:
            # LastOnStop wrote last.ckpt at the step boundary Lightning stopped at.
            if trainer.is_global_zero:
                print(f"stopped by SIGTERM after step {trainer.global_step}; resume with --ckpt_path last", file=sys.stderr)
            sys.exit(PREEMPTED_EXIT)
        seconds, steps = time.perf_counter() - start, trainer.global_step - start_step
        samples = steps * datamodule.hparams.batch_size * trainer.world_size * trainer.accumulate_grad_batches
        best = self.best_checkpoint
        with evaluation_noise_silenced():
            results = trainer.test(model, datamodule, ckpt_path=best or None, verbose=False, weights_only=True)
        if trainer.is_global_zero:
            print(f"fit: {steps} steps in {seconds:.0f} s, {samples / max(seconds, 1e-9):.0f} training samples/s (validation included)")
            print(headline(model, results))
            print(f"checkpoint: {best or '(none saved; tested the final weights)'}")

    def _evaluate(self, stage: str, model: VitBertTask, datamodule: L.LightningDataModule) -> None:
        ckpt_path = self.resolve_ckpt_path()
        if not ckpt_path:
            raise ConfigError(f"vit-bert {stage} needs --ckpt_path (a .ckpt file, or 'last' for the newest run of this config)")
        check_resume_checkpoint(ckpt_path, model)
        with evaluation_noise_silenced():
            results = getattr(self.trainer, stage)(model, datamodule, ckpt_path=ckpt_path, verbose=False, weights_only=True)
        if self.trainer.is_global_zero:
            print(headline(model, results, stage))
            print(f"checkpoint: {ckpt_path}")

    def validate(self, model: VitBertTask, datamodule: L.LightningDataModule, **_) -> None:
        """Evaluate --ckpt_path on the config's validation split."""
        self._evaluate("validate", model, datamodule)

    def test(self, model: VitBertTask, datamodule: L.LightningDataModule, **_) -> None:
        """Evaluate --ckpt_path on the config's test split."""
        self._evaluate("test", model, datamodule)


def _vit_bert_error_in(err: BaseException) -> VitBertError | None:
    """The VitBertError that ``err`` was raised from, if any."""
    while err is not None and not isinstance(err, VitBertError):
        err = err.__cause__ or err.__context__
    return err


def _a(modality: str) -> str:
    return f"{'an' if modality == 'image' else 'a'} {modality}"


def read_checkpoint(path: str) -> dict:
    """The checkpoint at ``path``, read without running code; a corrupt, unsafe or foreign file stops with one line."""
    ckpt = load_pickle_safely(path)
    if not is_training_checkpoint(ckpt):
        raise CheckpointError(f"--ckpt_path {path} is not a checkpoint written by vit-bert fit")
    return ckpt


def check_resume_checkpoint(path: str, task: VitBertTask) -> int:
    """Before Lightning reads ``path``: refuse a checkpoint of another kind of model with one clear message.

    Returns the checkpoint's global step."""
    ckpt = read_checkpoint(path)
    if is_multitask(ckpt) != isinstance(task, MultiTaskClassification):
        kinds = ("a co-trained (multi-task)", "a single-task")
        raise CheckpointError(f"--ckpt_path {path} holds {kinds[not is_multitask(ckpt)]} model, but this run trains "
                              f"{kinds[not isinstance(task, MultiTaskClassification)]} one")
    modality = model_modality(ckpt)
    if not is_multitask(ckpt) and modality != task.config.modality:
        raise CheckpointError(f"--ckpt_path {path} holds {_a(modality)} model, but this run trains {_a(task.config.modality)} model")
    try:
        check_weights_fit(task, ckpt["state_dict"])
    except WeightsMismatchError as err:
        raise CheckpointError(f"--ckpt_path {path} does not fit this run's model ({err})") from None
    return int(ckpt.get("global_step", 0))


def headline(task: VitBertTask, results: list[dict], stage: str = "test") -> str:
    """The figure vit-bert prints, with one line per task after it for a co-trained model."""
    key, name = task.headline
    key = key.replace("test_", "val_") if stage == "validate" else key
    found = {k: v for result in results for k, v in result.items()}
    lines = [f"{key.split('_')[0]} {name}: {found.get(key, float('nan')):.4f}"]
    lines += [f"  {k}: {v:.4f}" for k, v in found.items() if k.startswith(f"{key}/")]
    return "\n".join(lines)


def claim_version(folder: Path) -> int:
    """The next free N of ``folder/version_N``, its folder created here: ``mkdir`` fails for a run started at the same
    moment that took it first, and the next number is tried. Nothing in another run's folder is written."""
    folder.mkdir(parents=True, exist_ok=True)
    taken = [int(p.name.removeprefix("version_")) for p in folder.glob("version_*") if p.name.removeprefix("version_").isdigit()]
    version = max(taken, default=-1) + 1
    while True:
        try:
            (folder / f"version_{version}").mkdir()
            return version
        except FileExistsError:
            version += 1


def with_default_config(argv: list[str]) -> list[str]:
    """``argv`` with ``--config quickstart`` first when it names no config: ``vit-bert fit`` alone runs the quickstart."""
    if any(a in ("-c", "--config") or a.startswith("--config=") for a in argv):
        return argv
    return ["--config", DEFAULT_CONFIG, *argv]


def build_cli(argv: list[str], callbacks: list | None = None) -> VitBertCLI:
    """Parse fit's arguments (the quickstart config when none is given) and build model, data and trainer, without running."""
    return VitBertCLI(with_default_config(argv), run=False, callbacks=callbacks)


def run(argv: list[str], callbacks: list | None = None) -> VitBertCLI:
    """``vit-bert fit ARGS``: parse, fit, test; returns the CLI (model, datamodule, trainer) for callers that want them."""
    return VitBertCLI(["fit", *with_default_config(argv)], callbacks=callbacks)


class _CurrentStderr(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is now (a notebook's or pytest's replacement too), not the one at creation."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _):
        pass


@contextmanager
def vit_bert_info_shown():
    """vit_bert's INFO lines (which data path, how many workers) on stderr while a command runs, as Lightning shows its
    own logger's; the logger is as it was afterwards."""
    logger, handler = logging.getLogger("vit_bert"), _CurrentStderr()
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s"))
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def lightning_main(argv: list[str]) -> None:
    """``vit-bert fit|validate|test ARGS`` (the quickstart config when none is given)."""
    with vit_bert_info_shown():
        VitBertCLI([argv[0], *with_default_config(argv[1:])])
