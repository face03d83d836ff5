"""Lightning's --trainer.default_root_dir is honoured as the runs folder (it was silently ignored), and one that
disagrees with --runs_dir stops with one line."""

from pathlib import Path

import pytest

from vit_bert.cli import run
from vit_bert.errors import ConfigError

QUICK = ["--data.dataset", "digits", "--trainer.max_steps", "2", "--trainer.limit_val_batches", "1", "--trainer.limit_test_batches", "1",
         "--trainer.enable_progress_bar", "false", "--model.config.depth", "1"]


def test_default_root_dir_is_where_the_run_goes(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    cli = run([*QUICK, "--trainer.default_root_dir", str(tmp_path / "shared" / "runs")])
    assert Path(cli.trainer.log_dir).is_relative_to(tmp_path / "shared" / "runs")
    assert (Path(cli.trainer.log_dir) / "checkpoints" / "last.ckpt").is_file() and not (tmp_path / "runs").exists()
    with pytest.raises(ConfigError, match=r"--trainer.default_root_dir .* and --runs_dir elsewhere name two places for the runs; give one"):
        run([*QUICK, "--trainer.default_root_dir", str(tmp_path / "a"), "--runs_dir", "elsewhere"])


def test_a_url_as_the_runs_folder_stops_with_one_line(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for option in ("--runs_dir", "--trainer.default_root_dir"):
        with pytest.raises(ConfigError, match="the runs folder s3://bucket/runs is a URL; .*give a local or mounted shared folder"):
            run([*QUICK, option, "s3://bucket/runs"])
    assert not list(tmp_path.iterdir())  # no folder named "s3:"
