"""Regular expressions matched in time linear in the input, for policy argument constraints.

A policy's ``match.args[].regex`` is run by the gate on every call, against arguments the
agent chose. Python's ``re`` backtracks: ``(a+)+b`` against thirty ``a`` takes minutes, so a
policy (or an argument crafted against one) could hang the gate. The reference's regular
expressions are Go's (RE2), which run in linear time and refuse what cannot: backreferences,
lookaround, atomic groups, possessive repeats, conditionals.

So gait parses the pattern with Python's own parser (Python syntax and meaning, which the
policy author knows), refuses what RE2 refuses at policy load, and matches by simulating the
pattern's automaton one input character at a time over the set of live states (Thompson's
construction): no backtracking, work bounded by input length times pattern size. Repeat
counts follow RE2's limit (1000), and the compiled program is capped in size.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# Python's own regular-expression parser (private, stable across 3.11-3.13).
from re import _constants as C  # type: ignore[attr-defined]
from re import _parser as P  # type: ignore[attr-defined]
from typing import Any

MAX_REPEAT_COUNT = 1000  # RE2's limit on {n,m}
MAX_PROGRAM = 20_000  # instructions after repeats are expanded
_CACHE_LIMIT = 4096  # memoised state-set transitions per pattern

_REFUSED = {
    C.GROUPREF: "a backreference",
    C.GROUPREF_EXISTS: "a conditional group",
    C.ASSERT: "a lookahead or lookbehind",
    C.ASSERT_NOT: "a negative lookahead or lookbehind",
    C.ATOMIC_GROUP: "an atomic group",
    C.POSSESSIVE_REPEAT: "a possessive repeat",
}

_START = (C.AT_BEGINNING, C.AT_BEGINNING_STRING)
_END = (C.AT_END, C.AT_END_STRING)

# Instructions: (CHAR, predicate) consumes one character; (SPLIT, a, b); (JMP, a);
# (AT, kind, flags) asserts a position; (MATCH,).
CHAR, SPLIT, JMP, AT, MATCH = range(5)


class UnsupportedPattern(ValueError):
    """A construct RE2 refuses (no linear-time match exists), or a pattern too large."""


def _word(ch: str, ascii_only: bool) -> bool:
    if ascii_only:
        return ch.isascii() and (ch.isalnum() or ch == "_")
    return ch.isalnum() or ch == "_"


def _category(cat: Any, flags: int) -> Callable[[str], bool]:
    ascii_only = bool(flags & C.SRE_FLAG_ASCII)
    if cat in (C.CATEGORY_DIGIT, C.CATEGORY_NOT_DIGIT):
        if ascii_only:
            test: Callable[[str], bool] = lambda ch: "0" <= ch <= "9"  # noqa: E731
        else:
            test = str.isdecimal
    elif cat in (C.CATEGORY_SPACE, C.CATEGORY_NOT_SPACE):
        if ascii_only:
            test = lambda ch: ch in " \t\n\r\f\v"  # noqa: E731
        else:
            test = str.isspace
    elif cat in (C.CATEGORY_WORD, C.CATEGORY_NOT_WORD):
        test = lambda ch: _word(ch, ascii_only)  # noqa: E731
    else:
        raise UnsupportedPattern(f"the character class {cat}")
    if cat in (C.CATEGORY_NOT_DIGIT, C.CATEGORY_NOT_SPACE, C.CATEGORY_NOT_WORD):
        return lambda ch: not test(ch)
    return test


def _variants(ch: str, flags: int) -> tuple[str, ...]:
    """``ch`` and its case variants when IGNORECASE is on (one character each)."""
    if not flags & C.SRE_FLAG_IGNORECASE:
        return (ch,)
    found = {ch}
    for other in (ch.lower(), ch.upper(), ch.casefold()):
        if len(other) == 1 and (not flags & C.SRE_FLAG_ASCII or other.isascii()):
            found.add(other)
    return tuple(found)


def _literal(code: int, flags: int, negate: bool = False) -> Callable[[str], bool]:
    wanted = chr(code)
    if not flags & C.SRE_FLAG_IGNORECASE:
        return (lambda ch: ch != wanted) if negate else (lambda ch: ch == wanted)
    key = frozenset(_variants(wanted, flags))
    return (
        (lambda ch: not key.intersection(_variants(ch, flags)))
        if negate
        else (lambda ch: bool(key.intersection(_variants(ch, flags))))
    )


def _range(low: str, high: str, flags: int) -> Callable[[str], bool]:
    if flags & C.SRE_FLAG_IGNORECASE:
        return lambda ch: any(low <= v <= high for v in _variants(ch, flags))
    return lambda ch: low <= ch <= high


def _charset(items: list[tuple[Any, Any]], flags: int) -> Callable[[str], bool]:
    negate = False
    tests: list[Callable[[str], bool]] = []
    chars: set[str] = set()
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            chars.update(_variants(chr(av), flags))
        elif op is C.RANGE:
            tests.append(_range(chr(av[0]), chr(av[1]), flags))
        elif op is C.CATEGORY:
            tests.append(_category(av, flags))
        else:
            raise UnsupportedPattern(f"the class item {op}")
    frozen = frozenset(chars)

    def member(ch: str) -> bool:
        return ch in frozen or any(t(ch) for t in tests)

    if negate:
        return lambda ch: not member(ch)
    return member


class _Compiler:
    def __init__(self) -> None:
        self.prog: list[tuple[Any, ...]] = []

    def emit(self, *ins: Any) -> int:
        if len(self.prog) >= MAX_PROGRAM:
            raise UnsupportedPattern(f"a pattern larger than {MAX_PROGRAM} steps")
        self.prog.append(ins)
        return len(self.prog) - 1

    def patch(self, at: int, *ins: Any) -> None:
        self.prog[at] = ins

    def seq(self, items: Any, flags: int) -> None:
        for op, av in items:
            self.item(op, av, flags)

    def item(self, op: Any, av: Any, flags: int) -> None:
        if op in _REFUSED:
            raise UnsupportedPattern(_REFUSED[op])
        if op is C.LITERAL:
            self.emit(CHAR, _literal(av, flags))
        elif op is C.NOT_LITERAL:
            self.emit(CHAR, _literal(av, flags, negate=True))
        elif op is C.ANY:
            dotall = bool(flags & C.SRE_FLAG_DOTALL)
            self.emit(CHAR, (lambda ch: True) if dotall else (lambda ch: ch != "\n"))
        elif op is C.IN:
            self.emit(CHAR, _charset(av, flags))
        elif op is C.AT:
            self.emit(AT, av, flags)
        elif op is C.SUBPATTERN:
            _group, add, remove, body = av
            self.seq(body, (flags | add) & ~remove)
        elif op is C.BRANCH:
            self.branch(av[1], flags)
        elif op in (C.MAX_REPEAT, C.MIN_REPEAT):
            self.repeat(av, flags)
        else:
            raise UnsupportedPattern(f"the construct {op}")

    def branch(self, options: list[Any], flags: int) -> None:
        jumps = []
        for i, option in enumerate(options):
            if i < len(options) - 1:
                split = self.emit(SPLIT, 0, 0)
                self.seq(option, flags)
                jumps.append(self.emit(JMP, 0))
                self.patch(split, SPLIT, split + 1, len(self.prog))
            else:
                self.seq(option, flags)
        for jump in jumps:
            self.patch(jump, JMP, len(self.prog))

    def repeat(self, av: Any, flags: int) -> None:
        low, high, body = av
        unbounded = high is C.MAXREPEAT
        if low > MAX_REPEAT_COUNT or (not unbounded and high > MAX_REPEAT_COUNT):
            raise UnsupportedPattern(f"a repeat count above {MAX_REPEAT_COUNT}")
        for _ in range(low):
            self.seq(body, flags)
        if unbounded:
            # L: split(body, out); body; jmp L  (greedy or lazy is the same for a full match)
            split = self.emit(SPLIT, 0, 0)
            self.seq(body, flags)
            self.emit(JMP, split)
            self.patch(split, SPLIT, split + 1, len(self.prog))
            return
        splits = []
        for _ in range(high - low):
            splits.append(self.emit(SPLIT, 0, 0))
            self.seq(body, flags)
        for split in splits:
            self.patch(split, SPLIT, split + 1, len(self.prog))


# What position tests can see at a position: (at start, at end, before a final newline,
# after a newline, before a newline, after a word character (Unicode, ASCII), before one).
_Context = tuple[bool, bool, bool, bool, bool, bool, bool, bool, bool]


def _context(text: str, pos: int) -> _Context:
    end = len(text)
    prev = text[pos - 1] if pos > 0 else ""
    cur = text[pos] if pos < end else ""
    return (
        pos == 0,
        pos == end,
        pos == end - 1 and cur == "\n",
        prev == "\n",
        cur == "\n",
        bool(prev) and _word(prev, False),
        bool(prev) and _word(prev, True),
        bool(cur) and _word(cur, False),
        bool(cur) and _word(cur, True),
    )


def _at(kind: Any, flags: int, ctx: _Context) -> bool:
    begin, end, before_final_newline, after_newline, before_newline = ctx[:5]
    multiline = bool(flags & C.SRE_FLAG_MULTILINE)
    if kind in (C.AT_BEGINNING, C.AT_BEGINNING_LINE):
        return begin or (multiline and after_newline)
    if kind is C.AT_BEGINNING_STRING:
        return begin
    if kind in (C.AT_END, C.AT_END_LINE):
        return end or before_final_newline or (multiline and before_newline)
    if kind is C.AT_END_STRING:
        return end
    if kind in (C.AT_BOUNDARY, C.AT_NON_BOUNDARY):
        ascii_only = bool(flags & C.SRE_FLAG_ASCII)
        before = ctx[6] if ascii_only else ctx[5]
        after = ctx[8] if ascii_only else ctx[7]
        if kind is C.AT_NON_BOUNDARY and begin and end:
            return False  # as Python's \B: never in an empty string
        return (before != after) == (kind is C.AT_BOUNDARY)
    raise UnsupportedPattern(f"the position {kind}")


class LinearPattern:
    """A compiled pattern; ``fullmatch(text)`` is ``re.fullmatch(pattern, text) is not None``
    computed without backtracking."""

    def __init__(self, pattern: str) -> None:
        try:
            parsed = P.parse(pattern, 0)
        except re.error:
            raise
        except (RecursionError, OverflowError) as exc:
            raise UnsupportedPattern("a pattern nested too deeply or too large") from exc
        items = list(parsed)
        # For a full match a leading ^ or \A (position 0) and a trailing $ or \Z (the end:
        # nothing after them could consume a final newline) always hold: dropped, most
        # patterns have no position test left and take the memoised path.
        while items and items[0][0] is C.AT and items[0][1] in _START:
            items.pop(0)
        while items and items[-1][0] is C.AT and items[-1][1] in _END:
            items.pop()
        compiler = _Compiler()
        compiler.seq(items, parsed.state.flags)
        compiler.emit(MATCH)
        self.pattern = pattern
        self._prog = compiler.prog
        self._positional = any(ins[0] == AT for ins in self._prog)
        self._steps: dict[tuple[Any, ...], frozenset[int]] = {}

    def _closure(self, pcs: list[int], ctx: _Context | None) -> frozenset[int]:
        """The consuming states (CHAR, MATCH) reachable from ``pcs`` without input."""
        prog = self._prog
        seen: set[int] = set()
        out: set[int] = set()
        stack = list(reversed(pcs))
        while stack:
            pc = stack.pop()
            if pc in seen:
                continue
            seen.add(pc)
            ins = prog[pc]
            kind = ins[0]
            if kind == JMP:
                stack.append(ins[1])
            elif kind == SPLIT:
                stack.append(ins[2])
                stack.append(ins[1])
            elif kind == AT:
                if ctx is not None and _at(ins[1], ins[2], ctx):
                    stack.append(pc + 1)
            else:
                out.add(pc)
        return frozenset(out)

    def fullmatch(self, text: str) -> bool:
        """Step the set of live states one character at a time. A state set's successor
        depends only on the character (and, with position tests, on what they see there), so
        transitions are memoised: a lazily built DFA, bounded, then rebuilt."""
        prog = self._prog
        positional = self._positional
        steps = self._steps
        ctx = _context(text, 0) if positional else None
        states = steps.get((ctx,))
        if states is None:
            states = steps[(ctx,)] = self._closure([0], ctx)
        for pos, ch in enumerate(text):
            if not states:
                return False
            if positional:
                ctx = _context(text, pos + 1)
            key = (states, ch, ctx)
            after = steps.get(key)
            if after is None:
                moved = [pc + 1 for pc in states if prog[pc][0] == CHAR and prog[pc][1](ch)]
                after = self._closure(moved, ctx)
                if len(steps) >= _CACHE_LIMIT:
                    steps.clear()
                steps[key] = after
            states = after
        return any(prog[pc][0] == MATCH for pc in states)


def compile_linear(pattern: str) -> LinearPattern:
    """``pattern`` compiled for linear-time full matching; ``re.error`` when it is not a
    regular expression, ``UnsupportedPattern`` when RE2 could not run it either."""
    return LinearPattern(pattern)
