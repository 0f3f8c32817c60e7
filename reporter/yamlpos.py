"""Map a key path inside a YAML document to the line it was written on.

pydantic reports errors as a location tuple (``("workloads", 0, "batch_sizes", 1)``); a user needs
``spec.yaml:12``. We compose the YAML node tree once (it keeps start marks) and walk it along the
location, stopping at the deepest node that exists, so a missing key points at its parent mapping.
"""

from __future__ import annotations

from typing import Sequence

import yaml


def compose(text: str) -> yaml.Node | None:
    """The YAML node tree of ``text`` (None for an empty document)."""
    return yaml.compose(text, Loader=yaml.SafeLoader)


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
