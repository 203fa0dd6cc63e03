"""Safe YAML with line numbers: size, alias and depth limits, duplicate keys refused, and every
validation problem located by key path and line."""

from __future__ import annotations

import re
from functools import partial
from typing import Any

import yaml
from pydantic import (
    ValidationError,
)

from dacu.errors import ConfigError

MAX_YAML_BYTES = 1 << 20  # a campaign file is a few KB; the web API's body limit is 1 MiB too
MAX_YAML_NODES = 100_000  # values after expanding aliases (a "billion laughs" file has 10^9)
MAX_YAML_DEPTH = 64

_SECTION_PROBLEM = re.compile(
    r"^(?:[^\s:]+: )?(?P<section>[a-z_]+)(?P<index>\[\d+\])?(?P<ident> \(id [^)]*\))?"
    r"(?P<rest>(?:\.[\w\[\]]+)*): (?P<message>.+)$",
    re.S,
)


KeyPath = tuple[str | int, ...]
"""Where a value sits in the file: ("phases", 1, "start")."""


def _locate(problem: str, lines: dict[KeyPath, int], source: str) -> str:
    """`coupons[0] (id c20).quantity: …` → `source: coupons[0] (id c20).quantity: … (line 31)`."""
    match = _SECTION_PROBLEM.match(problem.strip())
    if not match:
        return f"{source}: {problem.strip()}"
    rest, _ = _split_relative_path(f"{match['rest'].lstrip('.')}: x") if match["rest"] else ((), "")
    lifted, message = _split_relative_path(match["message"])  # 'end: before start'
    path = (match["section"], *([int(match["index"][1:-1])] if match["index"] else []), *rest)
    line = _nearest_line((*path, *lifted), lines)
    where = f" (line {line})" if line else ""
    name = f"{match['section']}{match['index'] or ''}{match['ident'] or ''}{match['rest']}"
    name += "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in lifted)
    return f"{source}: {name}: {message}{where}"


def load_yaml_with_lines(text: str, *, source: str) -> tuple[Any, dict[KeyPath, int]]:
    """Parse YAML safely and return (data, {key path: 1-based line}).

    Safe: plain data types only (SafeLoader); at most MAX_YAML_BYTES; at most MAX_YAML_NODES
    values once aliases are expanded (an alias bomb is refused before it is built); nesting at
    most MAX_YAML_DEPTH; a key given twice in one mapping is refused (YAML would keep the last)."""
    if not text.strip():
        raise ConfigError(f"{source}: the file is empty")
    size = len(text.encode("utf-8"))
    if size > MAX_YAML_BYTES:
        raise ConfigError(
            f"{source}: {size:,} bytes, over the {MAX_YAML_BYTES:,} a campaign may have"
        )
    loader = None
    try:
        loader = yaml.SafeLoader(text)  # its reader refuses control characters already
        node = loader.get_single_node()
        _check_nodes(node, source)
        data = loader.construct_document(node) if node is not None else None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{source}: not valid YAML: {problem}{where}") from None
    except RecursionError:
        raise ConfigError(
            f"{source}: nested too deeply (at most {MAX_YAML_DEPTH} levels)"
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    lines: dict[KeyPath, int] = {}
    _index_lines(node, (), lines)
    return data, lines


def _check_nodes(root: Any, source: str) -> None:
    """Refuse duplicate keys, deep nesting and alias bombs, visiting each node once."""
    if root is None:
        return
    sizes: dict[int, int] = {}  # id(node) → values under it, aliases expanded
    stack: list[tuple[Any, int, bool]] = [(root, 1, False)]
    while stack:
        node, depth, done = stack.pop()
        if id(node) in sizes:
            continue
        if depth > MAX_YAML_DEPTH:
            line = node.start_mark.line + 1
            raise ConfigError(
                f"{source}: nested more than {MAX_YAML_DEPTH} levels deep (line {line})"
            )
        children = _children(node)
        if done or not children:
            total = 1 + sum(sizes.get(id(c), MAX_YAML_NODES) for c in children)
            if total > MAX_YAML_NODES:
                raise ConfigError(
                    f"{source}: aliases expand to more than {MAX_YAML_NODES:,} values "
                    f"(line {node.start_mark.line + 1}): not a campaign file"
                )
            sizes[id(node)] = total
            continue
        if isinstance(node, yaml.MappingNode):
            _no_duplicate_keys(node, source)
        stack.append((node, depth, True))
        stack.extend((c, depth + 1, False) for c in children if id(c) not in sizes)


def _children(node: Any) -> list[Any]:
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def _no_duplicate_keys(node: Any, source: str) -> None:
    seen: dict[str, int] = {}
    for key, _ in node.value:
        if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
            continue  # merge keys (<<: *defaults) are meant to be overridden
        line = key.start_mark.line + 1
        if key.value in seen:
            raise ConfigError(
                f"{source}: key {key.value!r} appears twice in one mapping "
                f"(line {seen[key.value]} and line {line}); YAML would silently keep the last"
            )
        seen[key.value] = line


def _index_lines(node: Any, path: KeyPath, out: dict[KeyPath, int]) -> None:
    if node is None:
        return
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            out[(*path, key.value)] = key.start_mark.line + 1
            _index_lines(value, (*path, key.value), out)
            out[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index_lines(item, (*path, index), out)


def describe_validation_error(exc: ValidationError, lines: dict[KeyPath, int], source: str) -> str:
    """One line per problem: `source: key.path: message (line N)`."""
    messages = []
    for error in exc.errors():
        loc = tuple(part for part in error["loc"] if not _is_pydantic_tag(part))
        message = error["msg"].removeprefix("Value error, ")
        extra, message = _split_relative_path(message)
        full = (*loc, *extra)
        if extra:  # 'before start' → 'before phases[1].start': name the sibling key in full
            message = re.sub(
                r"\b(before|after|above|below) ([a-z_]+)$",
                partial(_name_sibling, full),
                message,
            )
        line = _nearest_line(full, lines)
        where = f" (line {line})" if line else ""
        messages.append(f"{source}: {_format_path(full) or '(top level)'}: {message}{where}")
    return "\n".join(messages)


def _is_pydantic_tag(part: Any) -> bool:
    return isinstance(part, str) and ("[" in part or part.startswith("function-"))


_REL_PATH = re.compile(
    r"^(?P<path>[A-Za-z_][\w]*(?:\[\d+\])?(?:\.[A-Za-z_]\w*(?:\[\d+\])?)*): (?P<msg>.+)$", re.S
)


def _name_sibling(full: KeyPath, match: re.Match[str]) -> str:
    return f"{match[1]} {_format_path((*full[:-1], match[2]))}"


def _split_relative_path(message: str) -> tuple[KeyPath, str]:
    """Validators say 'end: before start' or 'phases[1].start: overlaps'; lift the path out."""
    match = _REL_PATH.match(message)
    if not match or " " in match["path"]:
        return (), message
    parts: list[Any] = []
    for piece in match["path"].split("."):
        name, *indexes = re.split(r"\[|\]", piece)
        parts.append(name)
        parts.extend(int(i) for i in indexes if i)
    return tuple(parts), match["msg"]


def _nearest_line(path: KeyPath, lines: dict[KeyPath, int]) -> int | None:
    for cut in range(len(path), -1, -1):
        if path[:cut] in lines:
            return lines[path[:cut]]
    return None


def _format_path(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out
