"""Installs like a library: the wheel carries the package and the shipped configs, and runs from any directory."""

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from vit_bert.errors import ConfigError
from vit_bert.shipped_configs import resolve_config, shipped_configs

ROOT = Path(__file__).resolve().parent.parent


def test_pyproject_names_every_package():
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "vit_bert").rglob("__init__.py")}
    assert listed == found | {"vit_bert.configs"}


def test_every_shipped_config_is_found_by_name_with_its_description():
    names = shipped_configs()
    assert set(names) == {p.stem for p in (ROOT / "configs").glob("*.yaml")}
    assert names["quickstart"].startswith("Quickstart: a small ViT")
    for spelling in ("quickstart", "quickstart.yaml", "configs/quickstart.yaml"):
        assert Path(resolve_config(spelling)).read_text() == (ROOT / "configs/quickstart.yaml").read_text()
    with pytest.raises(ConfigError, match=r"no shipped config of that name. Did you mean 'quickstart'\?"):
        resolve_config("quikstart")


@pytest.mark.slow
def test_the_wheel_installed_elsewhere_fits_the_quickstart_from_an_empty_directory(tmp_path):
    wheels, target, empty = tmp_path / "wheels", tmp_path / "site", tmp_path / "empty"
    empty.mkdir()
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation", "-q", "-w", str(wheels)],
                   check=True, capture_output=True, timeout=300)
    [wheel] = wheels.glob("vit_bert-*.whl")
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True, capture_output=True, timeout=300)
    assert (target / "vit_bert/configs/quickstart.yaml").is_file()
    assert all((target / "vit_bert/viz/assets" / name).is_file() for name in ("explorer.js", "explorer.css", "serve.js"))
    env = {**os.environ, "PYTHONPATH": str(target)}
    script = "import sys, vit_bert; from vit_bert.commands import main as vit_bert_main; print('imported', vit_bert.__file__); vit_bert_main(sys.argv[1:])"
    result = subprocess.run([sys.executable, "-c", script, "fit", "--config", "quickstart", "--trainer.max_steps", "5",
                             "--trainer.enable_progress_bar", "false"], cwd=empty, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"imported {target}" in result.stdout and "test accuracy: " in result.stdout
    assert (empty / "runs/quickstart/version_0/metrics.csv").is_file()
    listed = subprocess.run([sys.executable, "-c", script, "configs"], cwd=empty, env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0 and "cifar10_cpu_10min" in listed.stdout and re.search(r"^quickstart +Quickstart: a small ViT", listed.stdout, re.M)
