"""Reading a JSON file that a user or another library wrote (config.json, tokenizer_config.json, a model folder's meta).

    read_json(path) -> the parsed value; a file that is not JSON, or not UTF-8, stops with one line naming the file,
    the line and the column (a DataError), not a JSONDecodeError's traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError


def read_json(path: str | Path):
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}); expected a JSON file") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
