"""The small part of OData v4 query syntax the stand-ins need: ``$filter`` comparisons joined
with and/or/not and parentheses, ``$select`` and ``$orderby``.

Enough for the documented examples (``updatedDateTime ge 2024-01-01T00:00:00Z``,
``status eq 'New' and direction eq 'Incoming'``, ``customerProfile/address/country eq 'US'``,
``new_domain eq 'acme.com.tr'``); lambda operators such as ``team/any(...)`` are rejected
with :class:`ODataSyntaxError` so a test notices instead of getting a silently wrong list.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

Predicate = Callable[[Mapping[str, Any]], bool]


class ODataSyntaxError(ValueError):
    """The query option could not be parsed (the services answer 400)."""


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>'(?:[^']|'')*')
      | (?P<lparen>\()
      | (?P<rparen>\))
      | (?P<datetime>\d{4}-\d{2}-\d{2}T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)
      | (?P<number>-?\d+(?:\.\d+)?)
      | (?P<word>[A-Za-z_][A-Za-z0-9_/]*)
    )""",
    re.VERBOSE,
)
_COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}


def parse_datetime(value: str) -> datetime | None:
    """Parse the ISO 8601 forms the services use (``Z`` or an offset, up to 7 fraction digits)."""
    text = value.strip().replace(" ", "+")  # a '+' offset decoded from a form-encoded URL
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    match = re.match(r"^(.*T\d{2}:\d{2}:\d{2})(\.\d+)?(.*)$", text)
    if match and match.group(2):  # .NET writes 7 fraction digits; Python takes at most 6
        text = match.group(1) + "." + match.group(2)[1:7].ljust(6, "0") + match.group(3)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    text = text.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise ODataSyntaxError(f"Syntax error at position {position} in '{text}'.")
        kind = match.lastgroup or ""
        tokens.append((kind, match.group(kind)))
        position = match.end()
        while position < len(text) and text[position].isspace():
            position += 1
    return tokens


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """Follow ``a/b/c`` through nested dictionaries; missing steps give None."""
    value: Any = record
    for step in path.split("/"):
        if not isinstance(value, Mapping):
            return None
        value = value.get(step)
    return value


def _literal(kind: str, text: str) -> Any:
    if kind == "string":
        return text[1:-1].replace("''", "'")
    if kind == "number":
        return float(text) if "." in text else int(text)
    if kind == "datetime":
        return parse_datetime(text)
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered == "null":
        return None
    if re.fullmatch(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", text):
        return text.lower()  # an unquoted GUID literal
    raise ODataSyntaxError(f"Unexpected literal '{text}'.")


def _compare(left: Any, op: str, right: Any) -> bool:
    if isinstance(right, datetime) and isinstance(left, str):
        left = parse_datetime(left)
    if isinstance(left, str) and isinstance(right, str):
        left, right = left.lower(), right.lower()  # Dataverse/SQL string comparison ignores case
    if op == "eq":
        return bool(left == right)
    if op == "ne":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        if op == "gt":
            return bool(left > right)
        if op == "ge":
            return bool(left >= right)
        if op == "lt":
            return bool(left < right)
        return bool(left <= right)
    except TypeError:
        return False


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], known: Callable[[str], bool]) -> None:
        self.tokens = tokens
        self.position = 0
        self.known = known

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        token = self.peek()
        if token is None:
            raise ODataSyntaxError("Unexpected end of $filter.")
        self.position += 1
        return token

    def expression(self) -> Predicate:
        left = self.conjunction()
        while (token := self.peek()) and token == ("word", "or"):
            self.take()
            right = self.conjunction()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def conjunction(self) -> Predicate:
        left = self.unary()
        while (token := self.peek()) and token == ("word", "and"):
            self.take()
            right = self.unary()
            left = (lambda a, b: lambda r: a(r) and b(r))(left, right)
        return left

    def unary(self) -> Predicate:
        token = self.peek()
        if token == ("word", "not"):
            self.take()
            inner = self.unary()
            return lambda r: not inner(r)
        if token and token[0] == "lparen":
            self.take()
            inner = self.expression()
            if self.take()[0] != "rparen":
                raise ODataSyntaxError("Missing ')' in $filter.")
            return inner
        return self.comparison()

    def comparison(self) -> Predicate:
        kind, name = self.take()
        if kind != "word":
            raise ODataSyntaxError(f"Expected a property name, found '{name}'.")
        following = self.peek()
        if following and following[0] == "lparen":
            raise ODataSyntaxError(f"Functions and lambda operators are not supported: '{name}(...)'.")
        if not self.known(name):
            raise UnknownProperty(name)
        op_kind, op = self.take()
        if op_kind != "word" or op not in _COMPARISONS:
            raise ODataSyntaxError(f"Expected a comparison operator after '{name}', found '{op}'.")
        value_kind, value_text = self.take()
        value = _literal(value_kind, value_text)
        return lambda record: _compare(lookup(record, name), op, value)


class UnknownProperty(ODataSyntaxError):
    """A ``$filter``/``$select``/``$orderby`` named a property the entity does not have."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def parse_filter(text: str | None, known: Callable[[str], bool] = lambda name: True) -> Predicate:
    """Compile a ``$filter`` expression into a predicate over (nested) dictionaries."""
    if not text or not text.strip():
        return lambda record: True
    parser = _Parser(_tokens(text), known)
    predicate = parser.expression()
    if parser.peek() is not None:
        raise ODataSyntaxError(f"Unexpected '{parser.peek()[1]}' in $filter.")  # type: ignore[index]
    return predicate


def parse_select(text: str | None) -> list[str] | None:
    """``$select=a,b`` as a list, or None when absent."""
    if text is None or not text.strip():
        return None
    return [part.strip() for part in text.split(",") if part.strip()]


def parse_orderby(text: str | None) -> list[tuple[str, bool]]:
    """``$orderby=a desc,b`` as [(name, descending), ...]."""
    order: list[tuple[str, bool]] = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise ODataSyntaxError(f"Invalid $orderby clause '{part.strip()}'.")
        order.append((words[0], len(words) == 2 and words[1].lower() == "desc"))
    return order


def sort_records(records: list[dict[str, Any]], order: list[tuple[str, bool]]) -> list[dict[str, Any]]:
    """Stable multi-key sort; None sorts first ascending (as SQL Server does)."""
    result = list(records)
    for name, descending in reversed(order):

        def key(record: Mapping[str, Any], name: str = name) -> tuple[int, Any]:
            value = lookup(record, name)
            if isinstance(value, str):
                parsed = parse_datetime(value) if re.match(r"^\d{4}-\d{2}-\d{2}T", value) else None
                return (1, parsed) if parsed else (1, value.lower())
            return (0, 0) if value is None else (1, value)

        result.sort(key=key, reverse=descending)
    return result
