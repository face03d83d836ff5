"""Reading a JSON file that a user or another library wrote (config.json, tokenizer_config.json, a model folder's meta).

    read_json_object(path) -> the parsed object (a dict); a file that is not JSON, not UTF-8, or JSON but not an object
    stops with one line naming the file (and the line and column), a DataError, not a JSONDecodeError's traceback.
"""

from __future__ import annotations

import json
from pathlib import Path

from .errors import DataError


def read_json_object(path: str | Path) -> dict:
    path = Path(path)
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as err:
        raise DataError(f"{path} is not UTF-8 text (byte {err.start}); expected a JSON file") from None
    except json.JSONDecodeError as err:
        raise DataError(f"{path} is not valid JSON: {err.msg} at line {err.lineno}, column {err.colno}") from None
    if not isinstance(value, dict):
        raise DataError(f"{path} holds a JSON {type(value).__name__}; expected an object ({{\"key\": value, ...}})")
    return value
