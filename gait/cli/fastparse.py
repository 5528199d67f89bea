"""Command lines read without argparse wherever argparse would read them the same way.

A ``gait gate eval`` process runs once per tool call, and importing argparse and building the
command's parser (forty-odd options) was a twelfth of it (issue 16 item 6). Here the command's
own ``register(parser)`` runs against a ``Spec``, which records what it adds instead of building
an argparse parser, and ``parse`` reads the command line from that record, but only a command
line of the plain forms: exact long options (``--name value``, ``--name=value``, flags),
positionals taking one value each, ``store``, ``store_true``, ``store_false``, ``store_const``
and ``append`` actions without ``type`` or ``nargs``, ``choices`` checked. Anything else (an
abbreviated or short option, ``--``, a value starting with ``-``, a missing or extra argument,
``--help``, two options of one mutually exclusive group, an unknown option, a parser feature a
``Spec`` does not record) gives None, and the caller parses with argparse as before: every
error and every usage text is argparse's own. Where ``parse`` answers, its namespace has the
attributes argparse's would have, with equal values, in the same order
(tests/test_cli_fastparse.py compares the two on generated command lines).
"""

from __future__ import annotations

from types import SimpleNamespace

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

SUPPRESS = "==SUPPRESS=="  # argparse.SUPPRESS, compared by value
_KINDS = frozenset({"store", "store_true", "store_false", "store_const", "append"})
_KEYWORDS = frozenset(
    {"action", "dest", "const", "default", "choices", "required", "help", "metavar", "type"}
)
_TYPES = (None, int, float)  # called on the text as argparse calls them; others: argparse


class Unsupported(Exception):
    """``register`` called something a ``Spec`` does not record: argparse parses."""


class _Action:
    __slots__ = (
        "option_strings",
        "dest",
        "kind",
        "const",
        "default",
        "choices",
        "required",
        "type",
    )

    def __init__(self, names: tuple[str, ...], kwargs: dict[str, Any], spec: Spec) -> None:
        kind = kwargs.get("action", "store")
        optional = bool(names) and names[0][:1] == "-"
        self.option_strings = names if optional else ()
        if optional:
            dest = kwargs.get("dest") or names[0][2:].replace("-", "_")
        else:
            dest = names[0] if names else ""
        self.dest = dest
        self.kind = kind if isinstance(kind, str) else ""
        self.const: Any = kwargs.get("const")
        default: Any = None
        if kind == "store_true":
            self.const, default = True, False
        elif kind == "store_false":
            self.const, default = False, True
        if "default" in kwargs:
            default = kwargs["default"]
        elif dest in spec.defaults:  # argparse: set_defaults before add_argument
            default = spec.defaults[dest]
        self.default = default
        self.choices = kwargs.get("choices")
        self.type = kwargs.get("type")
        self.required = bool(kwargs.get("required", not optional))
        supported = (
            self.kind in _KINDS
            and not set(kwargs) - _KEYWORDS
            and bool(names)
            and bool(dest)
            and (
                all(name[:2] == "--" and len(name) > 2 for name in names)
                if optional
                else len(names) == 1 and self.kind == "store" and "dest" not in kwargs
            )
            and (self.kind != "store_const" or "const" in kwargs)
            and any(self.type is kind for kind in _TYPES)
            and (self.type is None or self.kind in ("store", "append"))
        )
        if not supported:
            spec.unsupported = True


class _Group:
    """``add_mutually_exclusive_group()``: its options are the parser's; a command line giving
    two of them is left to argparse (as is every command line of a required group)."""

    def __init__(self, spec: Spec, required: bool) -> None:
        self._spec = spec
        self.actions: list[_Action] = []
        if required:  # argparse counts only values unlike the default: not worth copying
            spec.unsupported = True

    def add_argument(self, *names: str, **kwargs: Any) -> _Action:
        action = self._spec.add_argument(*names, **kwargs)
        self.actions.append(action)
        return action


class _Subparsers:
    __slots__ = ("dest", "required", "choices", "_prog")

    def __init__(self, dest: str | None, prog: str) -> None:
        self.dest = dest
        self.required = False
        self.choices: dict[str, Spec] = {}
        self._prog = prog

    def add_parser(self, name: str, **kwargs: Any) -> Spec:
        if kwargs.get("aliases"):
            raise Unsupported("aliases")
        child = Spec(kwargs.get("prog") or f"{self._prog} {name}")
        self.choices[name] = child
        return child


class Spec:
    """What ``register(parser)`` adds to a parser, recorded rather than built."""

    def __init__(self, prog: str) -> None:
        self.prog = prog
        # actions and the subparsers entry, in the order added (argparse's defaults order)
        self.entries: list[_Action | _Subparsers] = []
        self.defaults: dict[str, Any] = {}
        self.groups: list[_Group] = []
        self.subparsers: _Subparsers | None = None
        self.unsupported = False

    def add_argument(self, *names: str, **kwargs: Any) -> _Action:
        action = _Action(names, kwargs, self)
        self.entries.append(action)
        return action

    def add_subparsers(self, *, dest: str | None = None, metavar: str | None = None) -> _Subparsers:
        if self.subparsers is not None:
            raise Unsupported("a second add_subparsers")
        if any(isinstance(e, _Action) and not e.option_strings for e in self.entries):
            raise Unsupported("positionals before the subcommand")  # they would be in its prog
        self.subparsers = _Subparsers(dest, self.prog)
        self.entries.append(self.subparsers)
        return self.subparsers

    def set_defaults(self, **kwargs: Any) -> None:
        self.defaults.update(kwargs)
        for entry in self.entries:  # argparse: set_defaults after add_argument
            if isinstance(entry, _Action) and entry.dest in kwargs:
                entry.default = kwargs[entry.dest]

    def add_mutually_exclusive_group(self, *, required: bool = False) -> _Group:
        group = _Group(self, required)
        self.groups.append(group)
        return group

    def add_argument_group(self, *args: Any, **kwargs: Any) -> Spec:
        """A titled group only changes ``--help``, which argparse prints: the parser itself."""
        return self

    def __getattr__(self, name: str) -> Any:
        raise Unsupported(name)


def record(name: str, register: Callable[[Any], None]) -> Spec | None:
    """The ``gait`` parser with the command ``name`` that ``register`` adds, as ``Spec``s (as
    gait.cli.main builds it with argparse); None when ``register`` needs what a ``Spec`` does
    not record."""
    top = Spec("gait")
    commands = top.add_subparsers(dest="command")
    try:
        register(commands.add_parser(name))
    except Exception:  # noqa: BLE001 - Unsupported, or a call a Spec answers differently
        return None
    return top


def parse(top: Spec, argv: list[str]) -> SimpleNamespace | None:
    """The namespace ``argparse`` would return for ``argv``, or None where this cannot say."""
    values = _parse(top, argv, 0)
    return None if values is None else SimpleNamespace(**values)


def _parse(spec: Spec, argv: list[str], index: int) -> dict[str, Any] | None:
    if spec.unsupported:
        return None
    values: dict[str, Any] = {}
    options: dict[str, _Action] = {}
    positionals: list[_Action] = []
    for entry in spec.entries:
        if entry.dest is not None and entry.dest not in values:
            default = entry.default if isinstance(entry, _Action) else None
            if default != SUPPRESS:
                values[entry.dest] = default
        if isinstance(entry, _Action):
            if entry.option_strings:
                options.update(dict.fromkeys(entry.option_strings, entry))
            else:
                positionals.append(entry)
    for key, value in spec.defaults.items():
        values.setdefault(key, value)
    sub = spec.subparsers
    seen: set[_Action] = set()
    while index < len(argv):
        token = argv[index]
        index += 1
        if token[:1] == "-":
            name, eq, attached = token.partition("=")
            action = options.get(name)
            if action is None or name[:2] != "--":
                return None  # short, abbreviated, unknown, '-', '--', a negative number
            if action.kind in ("store", "append"):
                if eq:
                    if attached == "--":  # argparse drops it: the option gets []
                        return None
                    value = attached
                elif index < len(argv) and argv[index][:1] != "-":
                    value = argv[index]
                    index += 1
                else:
                    return None
                value = _typed(action, value)
                if value is _BAD or (action.choices is not None and value not in action.choices):
                    return None
                if action.kind == "append":
                    current = values.get(action.dest)
                    values[action.dest] = [*(current or ()), value]
                else:
                    values[action.dest] = value
            elif eq:
                return None
            else:
                values[action.dest] = action.const
            seen.add(action)
        elif positionals:
            action = positionals.pop(0)
            value = _typed(action, token)
            if value is _BAD or (action.choices is not None and value not in action.choices):
                return None
            values[action.dest] = value
            seen.add(action)
        elif sub is not None and token in sub.choices:
            if sub.dest is not None:
                values[sub.dest] = token
            child = _parse(sub.choices[token], argv, index)
            if child is None:
                return None
            values.update(child)
            sub = None  # the rest of argv was the subcommand's
            break
        else:
            return None
    if sub is not None:  # no subcommand given: argparse's error (or its optional default)
        return None
    for entry in spec.entries:
        if isinstance(entry, _Action) and entry.required and entry not in seen:
            return None
    for group in spec.groups:
        if sum(action in seen for action in group.actions) > 1:
            return None
    for entry in spec.entries:  # argparse converts a text default that was not overridden
        if isinstance(entry, _Action) and entry.type is not None and entry not in seen:
            text = entry.default
            if isinstance(text, str) and values.get(entry.dest) is text:
                value = _typed(entry, str(text))
                if value is _BAD:
                    return None
                values[entry.dest] = value
    return values


_BAD = object()


def _typed(action: _Action, text: str) -> Any:
    if action.type is None:
        return text
    try:
        return action.type(text)
    except (TypeError, ValueError):
        return _BAD
