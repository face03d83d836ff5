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
