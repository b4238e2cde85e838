"""Where in a pack's source an error is: Cedar names a failing policy only by its position
("policy3") and a syntax error not at all, so a pack author is told the line here."""

from __future__ import annotations

import re
from dataclasses import dataclass

import cedarpy

_END_OF_INPUT = "unexpected end of input"


@dataclass(frozen=True)
class Span:
    """The lines (1-based, inclusive) of one policy statement, annotations included."""

    first: int
    last: int


@dataclass
class _Scan:
    line: int = 1
    depth: int = 0
    start: int | None = None
    in_string: bool = False
    escaped: bool = False
    comment: bool = False


def _step(scan: _Scan, ch: str, nxt: str, spans: list[Span]) -> None:
    if scan.comment:
        scan.comment = ch != "\n"
    elif scan.in_string:
        scan.in_string = scan.escaped or ch != '"'
        scan.escaped = not scan.escaped and ch == "\\"
    elif ch == "/" and nxt == "/":
        scan.comment = True
    elif not ch.isspace():
        if scan.start is None:
            scan.start = scan.line
        if ch == '"':
            scan.in_string = True
        elif ch in "([{":
            scan.depth += 1
        elif ch in ")]}":
            scan.depth -= 1
        elif ch == ";" and scan.depth <= 0:
            spans.append(Span(scan.start, scan.line))
            scan.start, scan.depth = None, 0
    if ch == "\n":
        scan.line += 1


def statements(text: str) -> list[Span]:
    """Each statement's lines, in order; an unterminated last one runs to the end."""
    spans: list[Span] = []
    scan = _Scan()
    for i, ch in enumerate(text):
        _step(scan, ch, text[i + 1 : i + 2], spans)
    if scan.start is not None:
        spans.append(Span(scan.start, scan.line))
    return spans


def _parse_error(text: str) -> str | None:
    try:
        cedarpy.policies_to_json_str(text)
    except Exception as exc:  # cedarpy raises plain ValueError on syntax errors
        return str(exc)
    return None


def syntax_line(text: str) -> int | None:
    """The line where the first syntax error shows: the first line of the first failing
    statement from which on its text can no longer be a prefix of a valid policy."""
    lines = text.splitlines()
    for span in statements(text):
        body = "\n".join(lines[span.first - 1 : span.last])
        if _parse_error(body) is None:
            continue
        for last in range(span.first, span.last + 1):
            error = _parse_error("\n".join(lines[span.first - 1 : last]))
            if error is not None and error != _END_OF_INPUT:
                return last
        return span.last
    return None


def policy_line(text: str, policy_id: str, hint: str = "") -> int | None:
    """The line of Cedar's `policyN`: the first line within it that mentions `hint`, else
    the line of its effect (after the annotations)."""
    m = re.fullmatch(r"policy(\d+)", policy_id)
    spans = statements(text)
    if m is None or int(m.group(1)) >= len(spans):
        return None
    span = spans[int(m.group(1))]
    lines = text.splitlines()[span.first - 1 : span.last]
    for words in ([f"context.{hint}", hint] if hint else [], ["permit", "forbid"]):
        for word in words:
            for offset, line in enumerate(lines):
                if word in line:
                    return span.first + offset
    return span.first


def hint_of(error: str) -> str:
    """The name a Cedar validation error quotes (`warrant` in "attribute `warrant` ...")."""
    quoted = re.findall(r"`([^`]+)`", error)
    names = [q for q in quoted if not q.startswith("policy") and "::" not in q]
    return names[0] if names else ""
