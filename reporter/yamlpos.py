"""The one YAML reader for user documents (CLI and service), and key path -> line mapping.

`read_bounded` / `load` treat the text as hostile: at most `MAX_DOCUMENT_BYTES`, strict UTF-8,
nesting at most `MAX_DEPTH` deep, at most `MAX_ALIASES` alias references and at most `MAX_NODES`
values, both as written and *after* alias expansion (a 600-byte "billion laughs" document would otherwise expand to
hundreds of millions of values in whatever walks it next). Only plain YAML types are built
(`yaml.SafeLoader`); the pure-Python composer is used because its recursion can be bounded.

pydantic reports errors as a location tuple (``("workloads", 0, "batch_sizes", 1)``); a user needs
``spec.yaml:12``. `line_of` walks the composed node tree along the location, stopping at the deepest
node that exists, so a missing key points at its parent mapping.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import yaml

from phantom_report.engine.limits import clip
from phantom_report.errors import SpecError

MAX_DOCUMENT_BYTES = 1_000_000
MAX_DEPTH = 50
MAX_ALIASES = 64
# a real spec has a few hundred values (the largest lists: 512 GPUs); composing stops at this many
MAX_NODES = 20_000


class _LimitExceeded(Exception):
    def __init__(self, message: str, line: int | None):
        super().__init__(message)
        self.line = line


try:  # libyaml's scanner/parser when available (about 10x faster); composing stays in Python
    from yaml.cyaml import CParser as _Parser
except ImportError:  # pragma: no cover - PyYAML built without libyaml
    _Parser = None


class _BoundedComposer(yaml.composer.Composer):
    """PyYAML's Python composer, counting nesting depth and alias references as it goes (libyaml's
    own composer recurses in C without a bound)."""

    _depth = 0
    _aliases = 0
    _nodes = 0

    def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
        line = self.peek_event().start_mark.line + 1
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_ALIASES:
                raise _LimitExceeded(f"more than {MAX_ALIASES} alias references (*name); write the values out", line)
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise _LimitExceeded(f"more than {MAX_NODES:,} values; a spec is a short YAML file", line)
        self._depth += 1
        if self._depth > MAX_DEPTH:
            raise _LimitExceeded(f"nested more than {MAX_DEPTH} levels deep", line)
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


if _Parser is not None:
    class _BoundedLoader(_BoundedComposer, _Parser, yaml.constructor.SafeConstructor, yaml.resolver.Resolver):
        def __init__(self, stream: str):
            _Parser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover
    class _BoundedLoader(_BoundedComposer, yaml.SafeLoader):  # type: ignore[no-redef]
        def __init__(self, stream: str):
            yaml.SafeLoader.__init__(self, stream)


def read_bounded(path: str | Path, max_bytes: int = MAX_DOCUMENT_BYTES) -> str:
    """The UTF-8 text of a user file, reading at most `max_bytes` + 1 bytes (so /dev/zero or a
    multi-GB file fails fast); SpecError naming the file for unreadable, oversized or non-UTF-8 input."""
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            raw = fh.read(max_bytes + 1)
    except OSError as exc:
        raise SpecError(f"{clip(str(p), 300)}: cannot read: {exc.strerror or type(exc).__name__}") from None
    if len(raw) > max_bytes:
        raise SpecError(f"{clip(str(p), 300)}: larger than {max_bytes:,} bytes; a spec is a short YAML file")
    return decode(raw, str(p))


def decode(raw: bytes, filename: str) -> str:
    """Strict UTF-8 (a BOM is allowed); SpecError with the line of the first bad byte otherwise."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"{clip(filename, 300)}:{line}: not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset "
                        f"{exc.start}); save the file as UTF-8") from None


def load(text: str, filename: str = "<spec>") -> tuple[Any, yaml.Node | None]:
    """(data, node tree) of one YAML document within the limits above; SpecError with file:line else."""
    name = clip(filename, 300)
    if len(text) > MAX_DOCUMENT_BYTES:  # characters >= bytes / 4; a cheap first bound for str input
        raise SpecError(f"{name}: larger than {MAX_DOCUMENT_BYTES:,} bytes; a spec is a short YAML file")
    loader = _BoundedLoader(text)
    try:
        root = loader.get_single_node()
        if root is not None:
            _check_expansion(root, name)
        data = loader.construct_document(root) if root is not None else None
    except _LimitExceeded as exc:
        raise SpecError(f"{name}:{exc.line}: {exc}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise SpecError(f"{name}{line}: not valid YAML: {clip(problem, 200)}") from None
    except (ValueError, OverflowError, TypeError, RecursionError) as exc:
        # values PyYAML cannot build: a 5000-digit integer, year 0, ...
        raise SpecError(f"{name}: not valid YAML: {clip(str(exc) or type(exc).__name__, 200)}") from None
    finally:
        loader.dispose()
    return data, root


def _check_expansion(root: yaml.Node, filename: str) -> None:
    """Refuse documents whose values, with aliases expanded, exceed MAX_NODES or MAX_DEPTH (aliases
    can stack depth: an alias at depth 40 of a node 40 deep)."""
    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded size, height)

    def visit(node: yaml.Node, depth: int) -> tuple[int, int]:
        known = sizes.get(id(node))
        if known is None:
            if depth > MAX_DEPTH:
                raise _LimitExceeded(f"nested more than {MAX_DEPTH} levels deep (counting aliases)",
                                     node.start_mark.line + 1)
            size, height = 1, 1
            if isinstance(node, (yaml.SequenceNode, yaml.MappingNode)):
                children = node.value if isinstance(node, yaml.SequenceNode) else [c for kv in node.value for c in kv]
                for child in children:
                    s, h = visit(child, depth + 1)
                    size, height = size + s, max(height, h + 1)
                    if size > MAX_NODES:
                        break
            known = sizes[id(node)] = (size, height)
        if depth + known[1] - 1 > MAX_DEPTH:
            raise _LimitExceeded(f"nested more than {MAX_DEPTH} levels deep (counting aliases)", node.start_mark.line + 1)
        if known[0] > MAX_NODES:
            raise _LimitExceeded(f"more than {MAX_NODES:,} values once aliases are expanded; write a shorter spec",
                                 node.start_mark.line + 1)
        return known

    visit(root, 1)


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document), within the limits of `load`."""
    return load(text)[1]


def line_of(root: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    """1-based line of the deepest node on ``loc``; None when the document is empty."""
    if root is None:
        return None
    node = root
    for part in loc:
        child = _child(node, part)
        if child is None:
            break
        node = child
    return node.start_mark.line + 1


def _child(node: yaml.Node, part: str | int) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode) and key.value == str(part):
                return value
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(part, int):
        return node.value[part] if 0 <= part < len(node.value) else None
    return None
