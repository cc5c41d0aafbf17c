"""Two answers to the same request, compared by shape: status, header names, field names, types
and order, number and date formats, and the values that must agree (codes). Every other value
(ids, claim codes, timestamps, request ids) differs between two services by nature: only its
format is compared, and the report never shows it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any, NamedTuple
from xml.etree import ElementTree

from mocksrv.upstream import Message

# transport headers: how a message is framed, not what the service answers
TRANSPORT = frozenset({"date", "content-length", "connection", "keep-alive", "transfer-encoding"})
_DTD = re.compile(rb"<!\s*(doctype|entity)", re.IGNORECASE)
_DAY, _MON = r"(Mon|Tue|Wed|Thu|Fri|Sat|Sun)", r"(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)"
DATE_FORMATS = (
    (re.compile(rf"{_DAY} {_MON} \d\d \d\d:\d\d:\d\d [A-Z]{{3,4}} \d{{4}}"), "EEE MMM dd HH:mm:ss zzz yyyy"),
    (re.compile(r"\d{8}T\d{6}Z"), "yyyyMMdd'T'HHmmss'Z'"),
    (re.compile(r"\d{8}T\d{4}Z"), "yyyyMMdd'T'HHmm'Z'"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"), "ISO-8601 (seconds, Z)"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"), "ISO-8601 (milliseconds, Z)"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?[+-]\d\d:?\d\d"), "ISO-8601 (offset)"),
    (re.compile(rf"{_DAY}, \d\d {_MON} \d{{4}} \d\d:\d\d:\d\d GMT"), "HTTP date"),
)  # fmt: skip


class Num(str):
    """A JSON number kept as written (`10.0` and `10` are different formats)."""


class Difference(NamedTuple):
    kind: str  # status, content-type, headers, code, fields, order, type, format, behaviour
    where: str  # the operation and the place: `CreateGiftCard $.cardInfo.value.amount`
    mocksrv: str
    target: str

    def text(self) -> str:
        return f"{self.kind}: {self.where}: mocksrv {self.mocksrv}, target {self.target}"


class Leaf(NamedTuple):
    kind: str  # string, number, boolean, null
    form: str  # the format: integer, decimal(1), a date format, text
    value: str


Node = Leaf | list[tuple[str, Any]]  # a leaf, or an object's (name, node) pairs in order


def number_format(text: str) -> str:
    if re.fullmatch(r"-?\d+", text):
        return "integer"
    if "e" in text.lower():
        return "exponent"
    return f"decimal({len(text.split('.', 1)[1])})" if "." in text else "number"


def string_format(text: str) -> str:
    return next((name for rx, name in DATE_FORMATS if rx.fullmatch(text)), "text")


def media_type(message: Message) -> str:
    return (message.header("content-type") or "").split(";", 1)[0].strip().lower() or "(none)"


def tree(message: Message) -> tuple[str, Node | None]:
    """('json' | 'xml' | 'text' | 'empty', the body's shape tree)."""
    body = message.body
    if not body.strip():
        return "empty", None
    head = body.lstrip()[:1]
    if head in (b"{", b"["):
        try:
            data = json.loads(body, parse_float=Num, parse_int=Num)
        except (ValueError, RecursionError):
            return "text", None
        return "json", _json_node(data)
    if head == b"<" and not _DTD.search(body):
        try:
            root = ElementTree.fromstring(body)
        except ElementTree.ParseError:
            return "text", None
        return "xml", [(_tag(root), _xml_node(root))]
    return "text", None


def _json_node(data: Any) -> Node:
    if isinstance(data, dict):
        return [(str(k), _json_node(v)) for k, v in data.items()]
    if isinstance(data, list):
        return [(f"[{i}]", _json_node(v)) for i, v in enumerate(data)]
    if isinstance(data, Num):
        return Leaf("number", number_format(data), str(data))
    if isinstance(data, bool):
        return Leaf("boolean", "boolean", str(data).lower())
    if data is None:
        return Leaf("null", "null", "null")
    return Leaf("string", string_format(str(data)), str(data))


def _tag(el: ElementTree.Element) -> str:
    return el.tag.rsplit("}", 1)[-1]  # without a namespace


def _xml_node(el: ElementTree.Element) -> Node:
    children = list(el)
    if children:
        return [(_tag(c), _xml_node(c)) for c in children]
    text = (el.text or "").strip()
    if re.fullmatch(r"-?\d+(\.\d+)?", text):
        return Leaf("number", number_format(text), text)
    return Leaf("string", string_format(text), text)


class Rules(NamedTuple):
    """What a step compares by value: JSON/XML paths (`$.errorCode`, or a suffix such as
    `error.code`) and header names."""

    values: tuple[str, ...] = ()
    header_values: tuple[str, ...] = ()


def compare(
    operation: str,
    ours: Message,
    theirs: Message,
    rules: Rules,
    ignore: frozenset[str] = frozenset(),
) -> list[Difference]:
    """What differs between mocksrv's answer and the target's (headers named in `ignore`,
    lower-case, are not compared)."""
    out: list[Difference] = []
    if ours.status != theirs.status:
        out.append(Difference("status", operation, str(ours.status), str(theirs.status)))
    if media_type(ours) != media_type(theirs):
        out.append(Difference("content-type", operation, media_type(ours), media_type(theirs)))
    out += _headers(operation, ours, theirs, rules, TRANSPORT | ignore)
    (our_kind, our_tree), (their_kind, their_tree) = tree(ours), tree(theirs)
    if our_kind != their_kind:
        out.append(Difference("type", f"{operation} (body)", our_kind, their_kind))
    elif our_tree is not None and their_tree is not None:
        root = "$" if our_kind == "json" else ""
        out += _nodes(operation, root, our_tree, their_tree, rules)
    return out


def _headers(
    operation: str, ours: Message, theirs: Message, rules: Rules, skip: frozenset[str]
) -> Iterator[Difference]:
    mine = [k for k, _ in ours.headers if k.lower() not in skip]
    other = [k for k, _ in theirs.headers if k.lower() not in skip]
    missing, extra = [k for k in mine if k not in other], [k for k in other if k not in mine]
    if missing or extra:
        yield Difference("headers", operation, _names(missing), _names(extra))
    for name in rules.header_values:
        a, b = ours.header(name), theirs.header(name)
        if a is not None and b is not None and a != b:
            yield Difference("code", f"{operation} header {name}", a, b)


def _names(names: list[str]) -> str:
    return "has " + ", ".join(names) if names else "has none of them"


def _nodes(operation: str, path: str, a: Node, b: Node, rules: Rules) -> list[Difference]:
    where = f"{operation} {path or '/'}"
    if isinstance(a, Leaf) and isinstance(b, Leaf):
        return _leaves(where, path, a, b, rules)
    if isinstance(a, Leaf) or isinstance(b, Leaf):
        return [Difference("type", where, _kind(a), _kind(b))]
    out: list[Difference] = []
    names_a, names_b = [n for n, _ in a], [n for n, _ in b]
    if sorted(names_a) != sorted(names_b):
        missing = [n for n in names_a if n not in names_b]
        extra = [n for n in names_b if n not in names_a]
        out.append(Difference("fields", where, _names(missing), _names(extra)))
    elif names_a != names_b:
        out.append(Difference("order", where, ", ".join(names_a), ", ".join(names_b)))
    theirs = dict(b)
    for name, node in a:
        if name in theirs:
            sep = "" if name.startswith("[") else ("." if path.startswith("$") else "/")
            out += _nodes(operation, f"{path}{sep}{name}", node, theirs[name], rules)
    return out


def _leaves(where: str, path: str, a: Leaf, b: Leaf, rules: Rules) -> list[Difference]:
    if a.kind != b.kind:  # null where the other side has a value is one too
        return [Difference("type", where, a.kind, b.kind)]
    if any(_names_path(path, v) for v in rules.values):
        return [] if a.value == b.value else [Difference("code", where, a.value, b.value)]
    if a.form != b.form:
        return [Difference("format", where, a.form, b.form)]
    return []


def _names_path(path: str, rule: str) -> bool:
    if rule.startswith("$"):
        return path == rule
    return path.endswith("." + rule) or path.endswith("/" + rule.replace(".", "/"))


def _kind(node: Node) -> str:
    return node.kind if isinstance(node, Leaf) else "object"
