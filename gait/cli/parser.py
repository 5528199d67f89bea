"""The CLI's argument parser: usage errors are ``E_USAGE`` (exit 6), and help is laid out
without importing ``shutil`` (which argparse would do for every parser it builds)."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

_COLUMNS: list[int] = []


def _columns() -> int:
    """The terminal width as ``shutil.get_terminal_size`` finds it, without importing shutil
    (and the compression modules it loads), which argparse does for every parser it builds.
    Looked up once per process: argparse builds a formatter for every argument it adds."""
    if not _COLUMNS:
        _COLUMNS.append(_terminal_columns())
    return _COLUMNS[0]


def _terminal_columns() -> int:
    import os

    try:
        columns = int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


class HelpFormatter(argparse.HelpFormatter):
    def __init__(
        self,
        prog: str,
        indent_increment: int = 2,
        max_help_position: int = 24,
        width: int | None = None,
    ) -> None:
        super().__init__(
            prog, indent_increment, max_help_position, _columns() - 2 if width is None else width
        )


class ArgumentParser(argparse.ArgumentParser):
    """Usage errors are invalid input (exit 6), reported like any other error."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        from gait.errors import InvalidInput

        raise InvalidInput(message, code="E_USAGE", hint=f"{self.prog} --help")
