"""The one YAML reader for policies and gait.yaml: strict, safe and bounded.

Anchors and aliases are allowed (the reference reads them, and PyYAML's ``safe_dump`` writes
them for shared lists), but an alias stands for a copy of its anchored node wherever a consumer
walks the tree, so every alias is charged the size of what it expands to: at most
``MAX_ALIAS_NODES`` per alias and ``MAX_DOCUMENT_NODES`` per document. The charge is computed
while composing, before anything is expanded, so a billion-laughs file is refused in
milliseconds. Nesting is capped too (PyYAML's composer is recursive), and ``load`` accepts only
the JSON-like types (mappings with string keys, lists, strings, integers, finite floats,
booleans, null) and refuses duplicate keys, because a YAML value that silently means something
else, or a key that silently hides another, is a security bug in a policy or a test config.

Errors are reported through the caller's ``fail(message, line)`` factory so each file type keeps
its own ``E_*`` code (``E_POLICY_PARSE``, ``E_REGRESS_CONFIG_INVALID``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.resolver import Resolver

from gait import gcpause

MAX_ALIAS_NODES = 10_000
MAX_DOCUMENT_NODES = 1_000_000
MAX_DEPTH = 100
MAX_INT_DIGITS = 40

Fail = Callable[[str, "int | None"], Exception]


class _BoundError(Exception):
    def __init__(self, message: str, mark: yaml.Mark | None) -> None:
        super().__init__(message)
        self.message = message
        self.mark = mark


class _Bounds:
    """Composer hooks charging every node, and every alias its expanded size."""

    _sizes: dict[int, int]
    _total: int
    _depth: int

    def _init_bounds(self) -> None:
        self._sizes = {}
        self._total = 0
        self._depth = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node | None:
        # _Bounds is mixed into a loader: the parser's methods are there at run time
        if self.check_event(yaml.AliasEvent):  # type: ignore[attr-defined]
            event = self.peek_event()  # type: ignore[attr-defined]
            node = Composer.compose_node(self, parent, index)  # type: ignore[arg-type]  # mixin
            size = self._sizes.get(id(node))
            if size is None:
                raise _BoundError(f"YAML alias *{event.anchor} refers to itself", event.start_mark)
            if size > MAX_ALIAS_NODES:
                raise _BoundError(
                    f"YAML alias *{event.anchor} expands to {size} nodes "
                    f"(at most {MAX_ALIAS_NODES} per alias)",
                    event.start_mark,
                )
            self._charge(size, event.start_mark)
            return node
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _BoundError(
                f"YAML nesting deeper than {MAX_DEPTH} levels",
                self.peek_event().start_mark,  # type: ignore[attr-defined]
            )
        node = Composer.compose_node(self, parent, index)  # type: ignore[arg-type]  # mixin
        self._depth -= 1
        if node is None:  # pragma: no cover - only at a stream's end, never for a node event
            return node
        if isinstance(node, yaml.ScalarNode) and node.style == "":
            node.style = None  # libyaml's events say "" where PyYAML's say None (plain)
        size = 1
        if isinstance(node, yaml.SequenceNode):
            size += sum(self._sizes[id(child)] for child in node.value)
        elif isinstance(node, yaml.MappingNode):
            size += sum(self._sizes[id(k)] + self._sizes[id(v)] for k, v in node.value)
        self._sizes[id(node)] = size
        self._charge(1, node.start_mark)
        return node

    def _charge(self, count: int, mark: yaml.Mark) -> None:
        self._total += count
        if self._total > MAX_DOCUMENT_NODES:
            raise _BoundError(
                f"YAML document expands to more than {MAX_DOCUMENT_NODES} nodes", mark
            )


class _PyLoader(_Bounds, yaml.SafeLoader):
    def __init__(self, stream: str) -> None:
        yaml.SafeLoader.__init__(self, stream)
        self._init_bounds()


try:  # libyaml's event parser (C, iterative, nesting-limited) under the same Python composer
    from yaml._yaml import CParser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _HAS_LIBYAML = False
else:
    _HAS_LIBYAML = True


def _loader(text: str) -> Any:
    if not _HAS_LIBYAML:  # pragma: no cover
        return _PyLoader(text)
    return _CLoader(text)


if _HAS_LIBYAML:

    class _CLoader(_Bounds, CParser, Composer, Resolver):
        """Scans and parses in C (7x faster on large policies), composes here, bounded."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Composer.__init__(self)
            Resolver.__init__(self)
            self._init_bounds()

        def get_single_node(self) -> yaml.Node | None:
            return Composer.get_single_node(self)

    class _CComposer(CParser, Resolver):
        """Scans, parses and composes in C: for documents without aliases (see ``compose``)."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            Resolver.__init__(self)


# A "*" that could start an alias: at the start of a line, after blanks or a flow indicator. A
# plain scalar cannot begin with "*", so a document without one has no aliases (a "*" inside a
# quoted string or a glob such as "/tmp/**" only sends the document down the slower path).
_MAY_HAVE_ALIAS = re.compile(r"(?:^|[\s\[\]{},:?!&'\"\ufeff-])\*")


def _check_plain_tree(root: yaml.Node) -> None:
    """The bounds for a document without aliases: nesting and node count, charged in the order
    the bounded composer charges them (a node's depth when it starts, its count when it ends),
    so the same document fails the same way on either path."""
    total = 0
    scalar_node = yaml.ScalarNode
    mapping_node = yaml.MappingNode

    def walk(node: yaml.Node, depth: int) -> None:
        nonlocal total
        if isinstance(node, mapping_node):
            children: list[yaml.Node] = [item for pair in node.value for item in pair]
        else:
            children = node.value
        for child in children:
            if depth >= MAX_DEPTH:
                raise _BoundError(f"YAML nesting deeper than {MAX_DEPTH} levels", child.start_mark)
            if isinstance(child, scalar_node):
                total += 1
                if total > MAX_DOCUMENT_NODES:
                    raise _BoundError(
                        f"YAML document expands to more than {MAX_DOCUMENT_NODES} nodes",
                        child.start_mark,
                    )
            else:
                walk(child, depth + 1)
        total += 1
        if total > MAX_DOCUMENT_NODES:
            raise _BoundError(
                f"YAML document expands to more than {MAX_DOCUMENT_NODES} nodes", node.start_mark
            )

    if not isinstance(root, scalar_node):
        walk(root, 1)


def _short(tag: str) -> str:
    return "!!" + tag[len("tag:yaml.org,2002:") :] if tag.startswith("tag:yaml.org,2002:") else tag


def _line(mark: yaml.Mark | None) -> int | None:
    return mark.line + 1 if mark is not None else None


def compose(text: str, fail: Fail) -> yaml.Node | None:
    """The document's node graph (aliased nodes shared), or None for an empty document.

    A document that cannot hold an alias is composed in C and its bounds checked after (a
    20,000-rule policy composes 3x faster); any other goes through the bounded composer, which
    charges every alias before expanding anything.
    """
    plain = _HAS_LIBYAML and _MAY_HAVE_ALIAS.search(text) is None
    loader = _CComposer(text) if plain else _loader(text)
    try:
        root: yaml.Node | None = loader.get_single_node()
        if plain and root is not None:
            _check_plain_tree(root)
        return root
    except _BoundError as exc:
        raise fail(exc.message, _line(exc.mark)) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if "maximum nesting depth" in str(exc.problem):  # libyaml's own (deeper) limit
            raise fail(f"YAML nesting deeper than {MAX_DEPTH} levels", _line(mark)) from None
        raise fail(f"YAML syntax error: {exc.problem or exc.context or exc}", _line(mark)) from None
    except yaml.YAMLError as exc:
        raise fail(f"YAML error: {str(exc).splitlines()[0] if str(exc) else exc}", None) from None
    except RecursionError:
        raise fail(f"YAML nesting deeper than {MAX_DEPTH} levels", None) from None
    finally:
        dispose = getattr(loader, "dispose", None)
        if dispose is not None:
            dispose()


_SCALAR_TAGS = frozenset(
    {
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:int",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:null",
    }
)


class _Constructor(yaml.SafeLoader):
    """Used only for its scalar constructors (YAML 1.1 int/float/bool spellings)."""

    def __init__(self) -> None:
        super().__init__("")


@gcpause.paused()
def load(text: str, fail: Fail) -> Any:
    """JSON-like values: dicts (string keys, no duplicates), lists, str, int, float, bool, None."""
    node = compose(text, fail)
    if node is None:
        return None
    constructor = _Constructor()
    memo: dict[int, Any] = {}

    def scalar(item: yaml.ScalarNode) -> Any:
        if item.tag == "tag:yaml.org,2002:timestamp":
            return item.value  # a date stays the text its author wrote
        if item.tag not in _SCALAR_TAGS:
            raise fail(f"YAML tag {_short(item.tag)} is not supported here", _line(item.start_mark))
        if item.tag.endswith(":int") and sum(ch.isdigit() for ch in item.value) > MAX_INT_DIGITS:
            raise fail(f"integer {item.value[:20]}... is too large", _line(item.start_mark))
        try:
            value = constructor.construct_object(item)
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise fail(f"bad scalar {item.value[:40]!r}: {exc}", _line(item.start_mark)) from None
        if isinstance(value, float) and not math.isfinite(value):
            raise fail(f"{item.value[:40]!r} is not a finite number", _line(item.start_mark))
        return value

    def build(item: yaml.Node) -> Any:
        known = memo.get(id(item))
        if known is not None:
            return known
        if isinstance(item, yaml.ScalarNode):
            return scalar(item)
        if isinstance(item, yaml.SequenceNode):
            if item.tag != "tag:yaml.org,2002:seq":
                raise fail(
                    f"YAML tag {_short(item.tag)} is not supported here", _line(item.start_mark)
                )
            out_list: list[Any] = []
            memo[id(item)] = out_list
            out_list.extend(build(child) for child in item.value)
            return out_list
        if item.tag != "tag:yaml.org,2002:map":
            raise fail(f"YAML tag {_short(item.tag)} is not supported here", _line(item.start_mark))
        out: dict[str, Any] = {}
        memo[id(item)] = out
        for key_node, value_node in item.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                raise fail("mapping keys must be plain strings", _line(key_node.start_mark))
            key = scalar(key_node)
            if not isinstance(key, str):
                key = key_node.value
            if key in out:
                raise fail(f"duplicate key {key!r}", _line(key_node.start_mark))
            out[key] = build(value_node)
        return out

    try:
        return build(node)
    finally:
        constructor.dispose()
