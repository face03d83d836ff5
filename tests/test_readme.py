"""The README as a user reads it: its Python examples run, and every config, command and option it names exists."""

import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_readme_python_example_runs():
    blocks = re.findall(r"```python\n(.*?)```", README, flags=re.S)
    assert blocks, "README has no ```python block"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert tuple(namespace["logits"].shape) == (1, 2)
    assert tuple(namespace["out"].shape) == (2, 10, 256)
    assert len(namespace["attentions"]) == 12 and tuple(namespace["attentions"][0].shape) == (2, 12, 197, 197)


def test_readme_co_training_example_runs(tmp_path, monkeypatch):
    [block] = [b for b in re.findall(r"```python\n(.*?)```", README, flags=re.S) if "build_multitask" in b]
    monkeypatch.chdir(tmp_path)  # it saves a folder
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    model = namespace["model"]
    assert model.tasks == ["digits", "sst2"] and (tmp_path / "both" / "model.safetensors").is_file()


DATA_MODULES = ("ImageDataModule", "TextDataModule", "MultiTaskDataModule")
TASKS = ("ClassificationTask", "MaskedTokenTask", "MultiTaskClassification")


def commands() -> list[tuple[str, str]]:
    """(program, the rest of the line) for every `python train.py ...` and `vit-bert X ...` the README shows."""
    found = []
    for line in README.splitlines():
        for match in re.finditer(r"(python train\.py|vit-bert [a-z]+)([^`|#\n]*)", line):
            program = "vit-bert fit" if match.group(1) == "python train.py" else match.group(1)
            found.append((program, match.group(2)))
    return found


def test_every_config_the_readme_names_exists():
    named = set(re.findall(r"configs/[\w.-]+\.yaml", README))
    assert named and not [name for name in named if not (ROOT / name).is_file()]


def printed(entry_point, argv: list[str]) -> str:
    """What a command line prints for ``argv`` (a --help: it ends with exit code 0, or returns)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            entry_point(argv)
        except SystemExit as exit_info:
            assert exit_info.code in (0, None), argv
    return out.getvalue()


def test_every_command_and_option_the_readme_names_exists():
    from vit_bert.commands import COMMANDS, LIGHTNING
    from vit_bert.commands import main as vit_bert_main

    found = commands()
    assert {program for program, _ in found} >= {"vit-bert fit", "vit-bert predict", "vit-bert export", "vit-bert viz", "vit-bert test"}
    helps = {}
    for program, rest in found:
        command = program.split()[1]
        assert command in COMMANDS, program
        if command not in helps:  # fit/validate/test: the data modules' and the tasks' options have helps of their own
            runs = [[command, "--help"]]
            if COMMANDS[command][0] == LIGHTNING:
                runs += [[command, "--data.help", f"vit_bert.data.{data}"] for data in DATA_MODULES]
                runs += [[command, "--model.help", task] for task in TASKS]
            helps[command] = "".join(printed(vit_bert_main, argv) for argv in runs)
        for option in re.findall(r"(--[\w.]+)", rest):
            assert option in helps[command], f"README: {program}{rest} names {option}, which `{program} --help` does not list"


@pytest.mark.parametrize("page", sorted(p.name for p in (ROOT / "docs").glob("*.md")))
def test_the_docs_links_point_at_pages_that_exist(page):
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    for target in re.findall(r"\]\(([^)#]+\.(?:md|png))", text):
        if not target.startswith("http"):
            assert (ROOT / "docs" / target).resolve().is_file(), f"{page} links to {target}"
    for target in re.findall(r"\]\((docs/[^)#]+)", README):
        assert (ROOT / target).is_file(), f"README links to {target}"
