"""The command lines: one vit-bert entry point, typed model options, and errors that are ours vs bugs."""

import importlib.metadata
import re
import time

import pytest

import vit_bert
from vit_bert import cli, commands, errors
from vit_bert.viz import __main__ as viz_main


def test_vit_bert_console_script_is_declared_and_lists_its_commands(capsys):
    scripts = {e.name: e.value for e in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts["vit-bert"] == "vit_bert.commands:main"
    commands.main(["--help"])
    out = capsys.readouterr().out
    assert all(f"  {name}" in out for name in ("fit", "validate", "test", "predict", "prepare", "export", "viz", "explore", "configs"))
    with pytest.raises(SystemExit) as exit_info:
        commands.main(["trian"])
    assert exit_info.value.code == 2
    assert capsys.readouterr().err.strip().endswith("error: unknown command 'trian'; expected one of fit, validate, test, predict, prepare, export, viz, explore, configs")


def test_the_command_list_loads_neither_torch_nor_lightning():
    import subprocess
    import sys

    code = "import sys; from vit_bert.commands import main; main(['--help']); print(sorted(m for m in ('torch', 'lightning') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")


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

    monkeypatch.setattr(cli, "VitBertCLI", broken)
    with pytest.raises(KeyError, match="a bug"):
        commands.train_py(["--trainer.max_epochs", "1"])
    monkeypatch.setattr(viz_main, "input_readers", broken)
    with pytest.raises(KeyError, match="a bug"):
        viz_main.main(["vit-ti/16", "photo.png"])


@pytest.mark.parametrize("source", ["runs/x/version_0/checkpoints/last.ckpt", "weights.safetensors", "./runs/model_dir"])
def test_a_missing_local_path_says_so_without_asking_the_hub(source, capsys):
    start = time.perf_counter()
    with pytest.raises(SystemExit) as exit_info:
        commands.train_py(["predict", source, "a sentence"])
    assert exit_info.value.code == 2 and time.perf_counter() - start < 5  # no download attempt, no retries
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "\n" not in err
    assert f"pretrained source {source} does not exist" in err and "expected a weights file, a model folder" in err


def test_model_config_fields_are_typed_options_with_help(capsys):
    with pytest.raises(SystemExit):
        commands.train_py(["--model.help", "ClassificationTask"])
    out = capsys.readouterr().out
    assert "--model.config.depth DEPTH" in out and "Number of Transformer blocks" in out
    assert "--model.config.drop_path DROP_PATH" in out


def test_a_badly_typed_model_option_stops_before_training(capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.train_py(["--model.config.depth", "two"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and re.search(r"^error: --model.config.depth: expected int.*'two'", err.strip().splitlines()[-1])


def test_the_retired_spellings_stop_with_what_to_write_instead(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        commands.train_py(["--model.overrides", "{depth: 3}"])
    assert exit_info.value.code == 2 and "--model.overrides" in capsys.readouterr().err
    old = tmp_path / "old.yaml"
    old.write_text("task: masked_tokens\nmodel:\n  preset: bert-mini\n")
    with pytest.raises(SystemExit) as exit_info:
        commands.train_py(["--config", str(old)])
    err = capsys.readouterr().err
    assert exit_info.value.code == 2 and "'task: masked_tokens' key is gone" in err and "class_path: MaskedTokenTask" in err


def test_a_bad_model_config_key_names_the_closest():
    from vit_bert.training.base import model_config

    assert model_config("vit-cifar/4", {"depth": 3}, None).depth == 3
    with pytest.raises(KeyError, match="unknown model config key 'dpeth'. Did you mean 'depth'"):
        model_config("vit-cifar/4", {"dpeth": 3}, None)


def test_a_reader_that_stops_early_ends_the_command_quietly():
    import subprocess
    import sys

    code = "import sys; from vit_bert.commands import main; [main(['--help']) for _ in range(2000)]"
    process = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()  # one line, then the pipe closes: the next writes fail
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0 and "Traceback" not in stderr, stderr
