"""The README's Python example runs as written."""

import re
from pathlib import Path


def test_readme_python_example_runs():
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    assert blocks, "README has no ```python block"
    namespace: dict = {}
    exec(compile(blocks[0], "README.md", "exec"), namespace)
    assert tuple(namespace["logits"].shape) == (1, 2)
    assert tuple(namespace["out"].shape) == (2, 10, 256)
    assert len(namespace["attentions"]) == 12 and tuple(namespace["attentions"][0].shape) == (2, 12, 197, 197)


def test_readme_co_training_example_runs(tmp_path, monkeypatch):
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    [block] = [b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "build_multitask" in b]
    monkeypatch.chdir(tmp_path)  # it saves a folder
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    model = namespace["model"]
    assert model.tasks == ["digits", "sst2"] and (tmp_path / "both" / "model.safetensors").is_file()
