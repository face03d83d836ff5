"""Imports flow one way (layers below, tools above), and no module hides a cycle in a function-level import."""

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "vit_bert"


def lint_imports() -> str:
    """The console script installed beside this Python (a venv's or pyenv's bin/), else the one on PATH."""
    beside = Path(sys.executable).parent / "lint-imports"
    found = str(beside) if beside.is_file() else shutil.which("lint-imports")
    if found is None:
        pytest.fail("lint-imports is missing: pip install -e '.[dev]' installs import-linter")
    return found


def test_the_layers_contract_holds():
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # this checkout's package, whichever Python the script belongs to
    result = subprocess.run([lint_imports(), "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True, env=env)
    assert result.returncode == 0, result.stdout[-3000:]
    assert "Contracts: 1 kept, 0 broken" in result.stdout


def test_the_contract_catches_a_wrong_way_import(tmp_path):
    """A layer importing a tool breaks the contract: copy the package, add one such import, lint the copy."""
    lint = lint_imports()
    shutil.copytree(PACKAGE, tmp_path / "vit_bert", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    block = tmp_path / "vit_bert/layers/block.py"
    block.write_text(block.read_text() + "\nfrom ..training import task  # wrong way\n")
    result = subprocess.run([lint, "--config", str(tmp_path / "pyproject.toml")], cwd=tmp_path, capture_output=True, text=True,
                            env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert result.returncode != 0 and "vit_bert.layers.block -> vit_bert.training" in result.stdout, result.stdout[-2000:]


def function_level_imports(path: Path) -> list[str]:
    """'module:line' for each import of vit_bert's own modules inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                if isinstance(inner, ast.ImportFrom) and (inner.level > 0 or (inner.module or "").startswith("vit_bert")):
                    found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    return found


def test_no_function_level_import_of_vit_bert_modules():
    # The exceptions defer Lightning, for commands that never train: viz.__getattr__ (the callback, for a fast
    # `import vit_bert.viz`) and data.__getattr__ (the data modules: predict, viz and export use augment alone).
    found = sorted(hit for path in PACKAGE.rglob("*.py") for hit in function_level_imports(path))
    assert found == ["vit_bert/data/__init__.py:14", "vit_bert/data/__init__.py:18", "vit_bert/data/__init__.py:22",
                     "vit_bert/viz/__init__.py:26"], found
