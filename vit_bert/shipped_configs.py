"""The configs that ship with vit_bert, found by name from any directory.

    resolve_config("quickstart") -> the path of the shipped configs/quickstart.yaml
    resolve_config("my/run.yaml") -> "my/run.yaml" (a file that exists is taken as it is)
    shipped_configs() -> {name: its first comment line}
    configs()                    # vit-bert configs: print them

The repository's top-level ``configs/`` folder is mapped into the package as ``vit_bert.configs``
(pyproject.toml), so a wheel carries the same files and an editable install reads them in place.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from .errors import ConfigError, suggest


def _folder():
    return resources.files("vit_bert.configs")


def shipped_configs() -> dict[str, str]:
    """Config name -> its description (the file's first comment line)."""
    found = {}
    for entry in sorted(_folder().iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".yaml"):
            first = entry.read_text(encoding="utf-8").splitlines()[0] if entry.read_text(encoding="utf-8") else ""
            found[entry.name.removesuffix(".yaml")] = first.lstrip("# ").strip()
    return found


def resolve_config(name_or_path: str) -> str:
    """A config file's path: the file itself when it exists, else the shipped config of that name."""
    if Path(name_or_path).is_file():
        return name_or_path
    name = Path(name_or_path).name.removesuffix(".yaml")
    names = shipped_configs()
    if name in names and (Path(name_or_path).parent in (Path("."), Path("configs"))):
        return str(_folder() / f"{name}.yaml")
    raise ConfigError(f"--config {name_or_path}: no such file, and no shipped config of that name.{suggest(name, names)} "
                      f"Shipped configs: {', '.join(names)} (vit-bert configs lists them)")


def configs() -> None:
    """List the configs that ship with vit_bert; --config NAME uses one from any directory."""
    names = shipped_configs()
    width = max(map(len, names))
    for name, description in names.items():
        print(f"{name:<{width}}  {description}")
