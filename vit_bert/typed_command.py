"""A typed function as a command line, with jsonargparse (the parser LightningCLI is built on).

    run_typed(predict, ["ckpt", "a.png", "b.png", "--batch_size", "8"], prog="vit-bert predict")

Each parameter becomes an option (``--batch_size 8``, a list as ``--mean [0.5,0.5,0.5]``), each required one a
positional argument, and a required ``list`` parameter takes one or more values (``inputs``). The help comes
from the function's docstring and the module's. A ``VitBertError`` ends the command with one line (``run_command``).
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
import typing

import docstring_parser
from jsonargparse import ActionYesNo, ArgumentParser, DefaultHelpFormatter

from .errors import run_command, suggest


_UNKNOWN = r"does not accept option '([\w.]+)'|unrecognized arguments: --([\w.]*\w)|Option '([\w.]+)' is not accepted|--([\w.]*\w) is not an option"


def one_line(message: str, known_options: dict[str, tuple[str, ...]] | None = None, prefix: str = "") -> str:
    """jsonargparse's report of a bad value, which nests one paragraph per Union member and class_path, as one line:
    the option, what was given, what was expected. ``known_options``: option group ('' for the top level, 'data',
    'model.config', ...) -> its names, of which the closest to an unknown one is named."""
    known_options = known_options or {}
    outer = re.match(r'\s*Parser key "([^"]+)"', message)
    nested = re.search(r"Problem with given class_path '[^']+':\s*(.*?)(?=\n\s*- Expected a <class 'NoneType'>|\Z)", message, re.S)
    if nested:  # an argument of the class a --model or --data names: report it under that key
        return one_line(nested.group(1), known_options, f"{prefix}{outer.group(1)}." if outer else prefix)
    unknown = re.search(_UNKNOWN, message)
    if unknown:
        dotted = next(g for g in unknown.groups() if g)
        group = re.search(r"Group '([\w.]+)'", message)
        dotted = f"{group.group(1)}.{dotted}" if group else dotted
        path = f"{prefix}{dotted}".replace(".init_args.", ".")
        group, _, name = path.rpartition(".")
        return f"--{path} is not an option.{suggest(name, known_options.get(group, ()))}"
    condensed = re.match(r"--([\w.]+): (.*)", message.strip())  # a nested parser's own one-line report
    if condensed:
        return f"--{prefix}{condensed.group(1)}: {condensed.group(2)}"
    expected = [t for t in re.findall(r"Expected a <class '(\w+)'>", message) if t != "NoneType"]
    given = re.search(r"(?:Given|Got) value: (.*)", message)
    if outer and expected and given:
        return f"--{prefix}{outer.group(1)}: expected {' or '.join(dict.fromkeys(expected))}; got {given.group(1).strip()!r}"
    return " ".join(line.strip() for line in message.splitlines() if line.strip())


class OneLineErrors:
    """Mixin for a jsonargparse parser: an error is one ``error: ...`` line on stderr and exit code 2, without the usage
    (hundreds of options for train.py; ``--help`` shows them). ``known_options`` is ``one_line``'s."""

    known_options: dict[str, tuple[str, ...]] = {}

    def error(self, message: str, ex: Exception | None = None):
        message = one_line(message, self.known_options)
        if not getattr(self, "exit_on_error", True):  # a parse jsonargparse runs inside another: it handles the error
            return super().error(message, ex)
        sys.stderr.write(f"error: {message}\n")
        self.exit(2)


class TypedParser(OneLineErrors, ArgumentParser):
    pass


class _HelpFormatter(DefaultHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """jsonargparse's help, with the module docstring's lines kept as written."""


def typed_parser(function, prog: str) -> ArgumentParser:
    """The parser of ``function``'s parameters: required ones positional, a required list as one or more values."""
    hints = typing.get_type_hints(function)
    docs = {p.arg_name: p.description for p in docstring_parser.parse(function.__doc__ or "").params}
    parameters = inspect.signature(function).parameters.items()
    variadic = [name for name, p in parameters if p.default is inspect.Parameter.empty and typing.get_origin(hints.get(name)) is list]
    switches = [name for name, p in parameters if hints.get(name) is bool]  # --trace alone means true
    parser = TypedParser(prog=prog, description=sys.modules[function.__module__].__doc__, formatter_class=_HelpFormatter)
    parser.known_options = {"": tuple(name for name, _ in parameters)}
    parser.add_function_arguments(function, as_positional=True, skip={*variadic, *switches})
    for name in variadic:
        parser.add_argument(name, nargs="+", help=docs.get(name))
    for name in switches:
        parser.add_argument(f"--{name}", action=ActionYesNo, default=inspect.signature(function).parameters[name].default, help=docs.get(name))
    return parser


def run_typed(function, argv: list[str] | None, prog: str) -> None:
    """Parse ``argv`` (default: sys.argv[1:]) for ``function`` and call it."""
    run_command(lambda args: function(**typed_parser(function, prog).parse_args(args).as_dict()), argv)
