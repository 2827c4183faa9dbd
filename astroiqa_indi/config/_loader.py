"""Reading profiles from YAML, remembering the line of every key for error messages."""

from __future__ import annotations

import codecs
import functools
import importlib.resources
import logging
import os
from pathlib import Path

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from astroiqa_indi.config._profile import Profile, build_profile
from astroiqa_indi.errors import ProfileError

__all__ = ["default_profile", "load_profile", "loads_profile"]

logger = logging.getLogger(__name__)

_MERGE_TAG = "tag:yaml.org,2002:merge"
# The schema is three levels deep (section.key[item]); nothing deeper needs a line.
_MAX_DEPTH = 3


class _LineLoader(yaml.SafeLoader):
    """A private SafeLoader subclass whose node tree we walk for key lines.

    Being our own class, nothing registered on it can leak into ``yaml.SafeLoader``.
    """


def load_profile(path: str | os.PathLike[str]) -> Profile:
    """Read and validate the profile at ``path``.

    Relative paths inside the profile (``mqtt.ca_file``, ``frames.reject_dir``,
    ``agent.journal_dir``) are resolved against the folder holding ``path``;
    ``~`` is expanded.

    Raises
    ------
    ProfileError
        The file is missing or unreadable, is not valid YAML, or is not a valid
        profile. The error names the file, the line of the offending key, the
        dotted key path and what was expected.
    """
    label = os.fspath(path)
    try:
        source = Path(label).read_bytes()
    except FileNotFoundError as exc:
        raise ProfileError("no such file", file=label) from exc
    except IsADirectoryError as exc:
        raise ProfileError("is a folder, expected a YAML file", file=label) from exc
    except OSError as exc:
        raise ProfileError(f"cannot read the file: {exc.strerror or exc}", file=label) from exc
    profile = _load(source, file=label, base_dir=Path(label).absolute().parent)
    logger.debug("loaded profile %r from %s", profile.name, label)
    return profile


def loads_profile(source: str | bytes, *, file: str | os.PathLike[str] | None = None) -> Profile:
    """Parse and validate profile YAML held in memory.

    ``file``, when given, names the source in errors and is the folder relative
    paths are resolved against, as for :func:`load_profile`.
    """
    label = None if file is None else os.fspath(file)
    base_dir = None if label is None else Path(label).absolute().parent
    return _load(source, file=label, base_dir=base_dir)


@functools.cache
def default_profile() -> Profile:
    """The embedded simulator profile (a copy of ``profiles/simulator.yaml``).

    Its relative ``agent.journal_dir`` stays relative (to the working directory):
    resolving it against the package folder would write into site-packages.
    """
    resource = importlib.resources.files("astroiqa_indi.config").joinpath("simulator.yaml")
    return _load(resource.read_bytes(), file=str(resource), base_dir=None)


def _load(source: str | bytes, *, file: str | None, base_dir: Path | None) -> Profile:
    data, lines = _parse(source, file)
    return build_profile(data, file=file, lines=lines, base_dir=base_dir)


def _parse(source: str | bytes, file: str | None) -> tuple[object, dict[str, int]]:
    """YAML text -> (plain data, {dotted key path: 1-based line}).

    Every YAML failure, including PyYAML's own recursion on absurd nesting,
    becomes a :class:`ProfileError`.
    """
    loader: _LineLoader | None = None
    try:
        loader = _LineLoader(source)
        node = loader.get_single_node()
        if node is None:
            return None, {}
        lines = {"": node.start_mark.line + 1}
        _record_lines(node, "", lines, file=file, depth=0, seen=set())
        return loader.construct_document(node), lines
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        what = ", ".join(part for part in (exc.context, exc.problem) if part) or "syntax error"
        column = f" (column {mark.column + 1})" if mark is not None else ""
        raise ProfileError(
            f"invalid YAML: {what}{column}",
            file=file,
            line=None if mark is None else mark.line + 1,
        ) from exc
    except yaml.reader.ReaderError as exc:
        raise ProfileError(
            f"invalid YAML: {_reader_problem(exc)}", file=file, line=_reader_line(source, exc)
        ) from exc
    except yaml.YAMLError as exc:  # pragma: no cover - every PyYAML error is one of the above
        raise ProfileError(f"invalid YAML: {exc}", file=file) from exc
    except RecursionError as exc:
        raise ProfileError("invalid YAML: nested too deeply", file=file) from exc
    finally:
        if loader is not None:
            loader.dispose()


def _reader_problem(exc: yaml.reader.ReaderError) -> str:
    if exc.encoding == "unicode":  # PyYAML's marker for a decoded but forbidden character
        return f"unacceptable character #x{exc.character:04x}: {exc.reason}"
    return f"cannot decode byte #x{exc.character:02x} as {exc.encoding}: {exc.reason}"


def _reader_line(source: str | bytes, exc: yaml.reader.ReaderError) -> int:
    """Line of a character PyYAML's reader refused (it reports only a position)."""
    if isinstance(source, str):
        return source[: exc.position].count("\n") + 1
    if exc.encoding != "unicode":  # a decoding error: the position counts bytes
        return source[: exc.position].count(b"\n") + 1
    # A forbidden character in decoded bytes: the position counts characters of the
    # text, decoded the way PyYAML's reader picks the codec (a UTF-16 BOM, else UTF-8).
    if source.startswith(codecs.BOM_UTF16_LE):
        encoding = "utf-16-le"
    elif source.startswith(codecs.BOM_UTF16_BE):
        encoding = "utf-16-be"
    else:
        encoding = "utf-8"
    return source.decode(encoding, errors="replace")[: exc.position].count("\n") + 1


def _record_lines(
    node: Node,
    prefix: str,
    lines: dict[str, int],
    *,
    file: str | None,
    depth: int,
    seen: set[int],
) -> None:
    """Record the line of every key and list item down to ``_MAX_DEPTH``.

    Aliased nodes are walked once (``seen``), so alias bombs and recursive
    anchors cost nothing. Merge keys (``<<``) are skipped: merged keys then report
    the line of the mapping that merges them. A key written twice in one mapping
    is an error; PyYAML would silently keep the last one.
    """
    if depth >= _MAX_DEPTH or id(node) in seen:
        return
    seen.add(id(node))
    if isinstance(node, MappingNode):
        first: dict[str, int] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode) or key_node.tag == _MERGE_TAG:
                continue
            path = f"{prefix}.{key_node.value}" if prefix else key_node.value
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                raise ProfileError(
                    f"duplicate key (first given on line {first[key_node.value]})",
                    file=file,
                    line=line,
                    key=path,
                )
            first[key_node.value] = line
            lines.setdefault(path, line)
            _record_lines(value_node, path, lines, file=file, depth=depth + 1, seen=seen)
    elif isinstance(node, SequenceNode):
        for i, item in enumerate(node.value):
            path = f"{prefix}[{i}]"
            lines.setdefault(path, item.start_mark.line + 1)
            _record_lines(item, path, lines, file=file, depth=depth + 1, seen=seen)
