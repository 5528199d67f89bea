"""YAML nodes to plain values, each checked against the shape its key must have.

A policy is read from the node graph (``gait.yamlload.compose``), not from PyYAML's constructed
values, so that the shape of every key is checked where its author wrote it: a string where a
list is expected, a quoted ``"true"`` where a boolean is, YAML 1.1's ``yes``/``no``, a duplicate
key, an unknown key, each is an error naming the key path and its line. A shape is one of

- ``STR``, ``INT``, ``BOOL``, ``NUM`` (finite int or float), ``ANY`` (any JSON-like value);
- ``STRS``: a list of strings;
- ``("list", shape)``: a list of that shape;
- ``{key: shape}``: a mapping with only those keys.

An explicit ``null`` where a mapping or list is expected reads as absent; inside a list it is
refused, since there it could only be a mistake. What an unknown key's error says is the
caller's (``UnknownKey``): the policy explains legacy and unevaluated keys differently.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:  # imported when a reader is made: a cached policy never loads PyYAML
    from typing import Any

    import yaml

STR = "str"
INT = "int"
BOOL = "bool"
STRS = "strs"
NUM = "num"
ANY = "any"
if TYPE_CHECKING:  # typing is not loaded by a decision (issue 16 item 6)
    Shape = Any  # STR | INT | BOOL | NUM | ANY | STRS | ("list", Shape) | dict[str, Shape]

# (message, node) -> the caller's exception
Fail = Callable[[str, "yaml.Node | None"], Exception]
# (mapping path, key, key path) -> the error message for a key the shape does not have
UnknownKey = Callable[[str, str, str], str]

_BOOL_WORDS_11 = frozenset({"yes", "no", "on", "off", "y", "n"})


class ShapeReader:
    """Reads one document: ``read(root_node, shape)``; errors come from ``fail``."""

    def __init__(self, fail: Fail, unknown_key: UnknownKey) -> None:
        import yaml

        self.fail = fail
        self.unknown_key = unknown_key
        self._scalar_node = yaml.ScalarNode
        self._sequence_node = yaml.SequenceNode
        self._mapping_node = yaml.MappingNode

    def _is_null(self, node: yaml.Node) -> bool:
        return isinstance(node, self._scalar_node) and node.tag.endswith(":null") and not node.style

    def read(self, node: yaml.Node, shape: Shape, path: str = "") -> Any:
        if isinstance(shape, dict):
            return self._mapping(node, shape, path)
        if isinstance(shape, tuple):
            if self._is_null(node):
                return None
            if not isinstance(node, self._sequence_node):
                raise self.fail(f"{path} must be a list", node)
            item_shape = shape[1]
            return [
                self._item(item, item_shape, f"{path}[{i}]") for i, item in enumerate(node.value)
            ]
        if shape == STRS:
            if self._is_null(node):
                return None
            if not isinstance(node, self._sequence_node):
                raise self.fail(f"{path} must be a list of strings", node)
            return [self._item(item, STR, f"{path}[{i}]") for i, item in enumerate(node.value)]
        if shape == ANY:
            return self._any(node, path)
        return self.scalar(node, path, shape)

    def _mapping(self, node: yaml.Node, shape: dict[str, Shape], path: str) -> Any:
        if self._is_null(node):
            return None
        if not isinstance(node, self._mapping_node):
            raise self.fail(f"{path or 'policy'} must be a mapping", node)
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            key = self.scalar(key_node, f"{path or 'policy'} key", STR)
            where = f"{path}.{key}" if path else key
            if key in out:
                raise self.fail(f"duplicate key {where!r}", key_node)
            if key not in shape:
                raise self.fail(self.unknown_key(path, key, where), key_node)
            out[key] = self.read(value_node, shape[key], where)
        return out

    def _item(self, node: yaml.Node, shape: Shape, path: str) -> Any:
        """A list element: null there is never "absent", so it is refused rather than kept."""
        if shape != ANY and self._is_null(node):
            raise self.fail(f"{path} must not be null", node)
        return self.read(node, shape, path)

    def _any(self, node: yaml.Node, path: str) -> Any:
        if isinstance(node, self._scalar_node):
            return self.scalar(node, path, ANY)
        if isinstance(node, self._sequence_node):
            return [self._any(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        return {
            self.scalar(key, path, STR): self._any(value, f"{path}.{key.value}")
            for key, value in node.value
        }

    def scalar(self, node: yaml.Node, path: str, want: str) -> Any:
        fail = self.fail
        if not isinstance(node, self._scalar_node):
            raise fail(f"{path} must be a {'string' if want == STR else want}", node)
        tag = node.tag.rsplit(":", 1)[-1]
        plain = not node.style  # PyYAML says None for plain, libyaml ""
        if tag == "null" and plain:
            return None
        if plain and node.value.lower() in _BOOL_WORDS_11:
            raise fail(
                f"{path}: ambiguous YAML 1.1 boolean {node.value!r}; write true/false, "
                "or quote it if a string is meant",
                node,
            )
        if want == STR:
            if tag == "bool" and plain:
                raise fail(f"{path} must be a string, not a boolean (quote it)", node)
            return node.value
        if want == BOOL:
            if tag != "bool" or not plain:
                raise fail(f"{path} must be true or false", node)
            return node.value.lower() == "true"
        if want == INT:
            if tag != "int" or not plain:
                raise fail(f"{path} must be an integer", node)
            try:
                return int(node.value.replace("_", ""), 0)
            except ValueError:
                try:
                    return int(node.value.replace("_", ""))
                except ValueError as exc:
                    raise fail(f"{path} must be an integer", node) from exc
        if want == NUM:
            if plain and tag in ("int", "float"):
                try:
                    value = float(node.value.replace("_", ""))
                except ValueError as exc:
                    raise fail(f"{path} must be a number", node) from exc
                if value != value or value in (float("inf"), float("-inf")):
                    raise fail(f"{path} must be a finite number", node)
                return value
            raise fail(f"{path} must be a number", node)
        # ANY: a JSON-like scalar
        if plain:
            if tag == "bool":
                return node.value.lower() == "true"
            if tag == "int":
                return self.scalar(node, path, INT)
            if tag == "float":
                return self.scalar(node, path, NUM)
        return node.value
