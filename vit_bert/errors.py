"""Every error vit_bert raises on purpose, under one base class.

Command lines (``train.py``, ``vit-bert``, ``python -m vit_bert.viz``/``export``) catch ``VitBertError``
alone and print its message in one line; anything else is a bug and keeps its traceback.
Each class also derives from the built-in exception users already catch (``ValueError``,
``KeyError``, ``TypeError``, ``FileNotFoundError``, ``FloatingPointError``).

    VitBertError
      ConfigError (ValueError)          a model or training setting that cannot work
        ConfigKeyError (KeyError)       an unknown preset or config key (with the closest valid name)
        ConfigTypeError (TypeError)     a config value of the wrong type
      InputError (ValueError)           tensors the model cannot read (shape, channels, token ids)
      DataError (ValueError)            the user's data files or dataset
      WeightsError (ValueError)         weights that cannot be read or do not fit
        WeightsFileError                a file that is missing, truncated or not a state dict
        UnsafeCheckpointError           a pickle that would run code
        WeightsMismatchError            keys or shapes that do not fit the model; nothing was loaded
        AmbiguousWeightsError           the weights do not say something the model needs (e.g. the head count)
        CheckpointError                 a --ckpt_path that cannot resume this run
      CheckpointWriteError (OSError)   a checkpoint that could not be written (the file, why, what is intact)
      SourceNotFoundError (FileNotFoundError)   a path or Hub id that does not exist
      TrainingDivergedError (FloatingPointError) the loss became NaN or Inf
"""

from __future__ import annotations

import difflib
import os
import sys


class VitBertError(Exception):
    """Base class: a problem vit_bert detected and can describe in one line."""


class ConfigError(VitBertError, ValueError):
    pass


class ConfigKeyError(ConfigError, KeyError):
    def __str__(self) -> str:  # KeyError would quote the whole message
        return str(self.args[0]) if self.args else ""


class ConfigTypeError(ConfigError, TypeError):
    pass


class InputError(VitBertError, ValueError):
    pass


class DataError(VitBertError, ValueError):
    pass


class WeightsError(VitBertError, ValueError):
    pass


class WeightsFileError(WeightsError):
    pass


class UnsafeCheckpointError(WeightsError):
    pass


class WeightsMismatchError(WeightsError):
    pass


class AmbiguousWeightsError(WeightsError):
    pass


class CheckpointError(WeightsError):
    pass


class CheckpointWriteError(VitBertError, OSError):
    pass


class SourceNotFoundError(VitBertError, FileNotFoundError):
    pass


class TrainingDivergedError(VitBertError, FloatingPointError):
    pass


def suggest(given: str, choices) -> str:
    """" Did you mean 'x'?" for the closest of ``choices``, or ""."""
    close = difflib.get_close_matches(given, list(choices), n=1)
    return f" Did you mean {close[0]!r}?" if close else ""


def run_command(command, argv: list[str] | None = None) -> None:
    """Run a command-line entry point: a ``VitBertError`` ends it with one ``error: ...`` line on stderr and exit
    code 2; any other exception is a bug and keeps its traceback."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        command(args)
    except VitBertError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except BrokenPipeError:  # the reader stopped reading (vit-bert --help | head): nothing left to say
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so that the exit's flush does not fail again
        sys.exit(0)
