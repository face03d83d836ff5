"""The command lines: one vit-bert entry point, typed model options, and errors that are ours vs bugs."""

import importlib.metadata
import time

import pytest

import vit_bert
from vit_bert import cli, errors
from vit_bert.viz import __main__ as viz_main


def test_vit_bert_console_script_is_declared_and_lists_its_commands(capsys):
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts["vit-bert"] == "vit_bert.cli:vit_bert_main"
    cli.vit_bert_main(["--help"])
    out = capsys.readouterr().out
    assert all(f"  {name}" in out for name in ("fit", "test", "predict", "export", "viz", "configs"))
    with pytest.raises(SystemExit) as exit_info:
        cli.vit_bert_main(["trian"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip() == "error: unknown command 'trian'; expected one of fit, test, predict, export, viz, configs"


def test_errors_are_one_hierarchy_under_the_builtins_users_catch():
    assert issubclass(errors.ConfigKeyError, KeyError) and issubclass(errors.ConfigTypeError, TypeError)
    assert issubclass(errors.DataError, ValueError) and issubclass(errors.SourceNotFoundError, FileNotFoundError)
    assert all(issubclass(e, vit_bert.VitBertError) for e in (errors.WeightsMismatchError, errors.TrainingDivergedError, errors.CheckpointError))
    with pytest.raises(KeyError) as info:
        vit_bert.build_model("vit-x/16")
    assert str(info.value).startswith("unknown preset 'vit-x/16'")  # no quotes around the message


def test_a_bug_inside_vit_bert_keeps_its_traceback(monkeypatch):
    def broken(*args, **kwargs):
        raise KeyError("a bug, not a user error")

    monkeypatch.setattr(cli, "run", broken)
    with pytest.raises(KeyError, match="a bug"):
        cli.main(["--trainer.max_epochs", "1"])
    monkeypatch.setattr(viz_main, "predictors", broken)
    with pytest.raises(KeyError, match="a bug"):
        viz_main.main(["vit-ti/16", "photo.png"])


@pytest.mark.parametrize("source", ["runs/x/version_0/checkpoints/last.ckpt", "weights.safetensors", "./runs/model_dir"])
def test_a_missing_local_path_says_so_without_asking_the_hub(source, capsys):
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["predict", source, "a sentence"])
    assert exit_info.value.code == 2 and time.perf_counter() - start < 5  # no download attempt, no retries
    err = capsys.readouterr().err.strip()
    assert err == f"error: pretrained source {source} does not exist; expected a weights file, a model folder, a timm name or a Hub id"


def test_model_config_fields_are_typed_options_with_help(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    out = capsys.readouterr().out
    assert "--model.config.depth DEPTH" in out and "Number of Transformer blocks" in out
    assert "--model.config.drop_path DROP_PATH" in out


def test_a_badly_typed_model_option_stops_before_training(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--model.config.depth", "two"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and 'Parser key "model.config.depth"' in err and "Expected a <class 'int'>" in err


def test_overrides_apply_after_the_typed_config_and_bad_keys_name_the_closest():
    from vit_bert.config import ModelOptions
    from vit_bert.training.task import merge_model_options, model_config

    merged = merge_model_options(ModelOptions(depth=2, dim=96), {"depth": 3})
    assert merged == {"dim": (96, "model.config.dim"), "depth": (3, "model.overrides.depth")}
    assert model_config("vit-cifar/4", merged, None).depth == 3
    with pytest.raises(KeyError, match="unknown model config key 'dpeth'. Did you mean 'depth'"):
        model_config("vit-cifar/4", merge_model_options(None, {"dpeth": 3}), None)
