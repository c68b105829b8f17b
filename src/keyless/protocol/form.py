"""Form-encoded input (query and ec2 protocols): flat `A.b.1.C=v` pairs -> typed input dicts.

The flat keys are split once into a tree ({"A": {"b": {"1": {"C": "v"}}}}) and the tree is read
against the operation's input Node, driven by the keys that are present (a 40-member EC2
structure with two parameters costs two lookups). Wire names differ by flavour, as in
botocore's QuerySerializer / EC2Serializer:

    query  member: locationName or name;  list: Name.member.N (flattened: Name.N, or the
           member's locationName); map: Name.entry.N.key / .value; empty list: "Name="
    ec2    member: queryName, else capitalized locationName, else name; list: Name.N always
"""

from __future__ import annotations

from typing import Any, Callable
from urllib.parse import unquote

from keyless.protocol.errors import MalformedQueryString
from keyless.protocol.http import HttpRequest
from keyless.protocol.models import Node
from keyless.protocol.values import BadValue, parse_blob, parse_bool, parse_float, parse_int, parse_timestamp

Tree = dict[str, Any]


def form_params(req: HttpRequest) -> dict[str, str]:
    """Query-string and form-body parameters (the body wins), decoded once per request."""
    if req._form is None:
        params: dict[str, str] = {}
        try:
            if req.query_string:
                _decode_into(req.query_string, params)
            if req.body and _is_form(req):
                _decode_into(req.body.decode("utf-8"), params)
        except (UnicodeDecodeError, ValueError):
            raise MalformedQueryString("The query string contains a syntax error.") from None
        req._form = params
    return req._form


def _decode_into(text: str, params: dict[str, str]) -> None:
    """application/x-www-form-urlencoded (as urllib's parse_qsl with blank values kept, strict
    UTF-8), with shortcuts for a body with nothing escaped and for each unescaped name or value."""
    escaped = "%" in text or "+" in text  # most bodies escape nothing: their pairs are taken as they are
    for part in text.split("&"):
        if part:
            key, _, value = part.partition("=")
            params[_unquote(key) if escaped else key] = _unquote(value) if escaped else value


def _unquote(text: str) -> str:
    if "+" in text:
        text = text.replace("+", " ")
    return unquote(text, errors="strict") if "%" in text else text


def _is_form(req: HttpRequest) -> bool:
    ctype = req.header("content-type")
    return ctype is None or ctype.lower().startswith("application/x-www-form-urlencoded")


def build_tree(flat: dict[str, str]) -> Tree:
    if "." not in "".join(flat):  # no nested key (GetRole, AssumeRole...): the tree is the form itself
        return dict(flat)
    root: Tree = {}
    for key, value in flat.items():
        parts = key.split(".")
        node = root
        for part in parts[:-1]:
            child = node.get(part)
            if not isinstance(child, dict):
                child = node[part] = {}
            node = child
        if not isinstance(node.get(parts[-1]), dict):  # "A=" and "A.member.1=x": the longer key wins
            node[parts[-1]] = value
    return root


def _indexed(raw: Any) -> list[Any]:
    """The values of {"1": a, "2": b, ...} in numeric order (non-numeric keys are not elements)."""
    if not isinstance(raw, dict):
        raise BadValue(raw, "list")
    return [raw[k] for k in sorted((k for k in raw if k.isdigit()), key=int)]


class FormReader:
    """Reads a parameter tree against a Node; `ec2=True` selects EC2's naming rules."""

    def __init__(self, *, ec2: bool) -> None:
        self.ec2 = ec2
        self._cache_key = "form.ec2" if ec2 else "form.query"
        self._readers: dict[str, Callable[[Node, Any], Any]] = {
            "structure": self.structure, "list": self.list, "map": self.map,
            "string": _text, "character": _text, "integer": _scalar(parse_int), "long": _scalar(parse_int),
            "short": _scalar(parse_int), "byte": _scalar(parse_int), "boolean": _scalar(parse_bool),
            "float": _scalar(parse_float), "double": _scalar(parse_float), "timestamp": _scalar(parse_timestamp),
            "blob": _scalar(parse_blob),
        }

    def read(self, node: Node, raw: Any) -> Any:
        return self._readers[node.type](node, raw)

    def structure(self, node: Node, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise BadValue(raw, "structure")
        table = self.wire_table(node)
        out: dict[str, Any] = {}
        for wire, sub in raw.items():
            entry = table.get(wire)
            if entry is None:
                continue
            name, child = entry
            try:
                out[name] = self._readers[child.type](child, sub)
            except BadValue as exc:
                exc.path.insert(0, name)
                raise
        return out

    def wire_table(self, node: Node) -> dict[str, tuple[str, Node]]:
        table = node.cache.get(self._cache_key)
        if table is None:
            table = node.cache[self._cache_key] = {self.wire_name(n, c): (n, c) for n, c in node.members.items()}
        return table

    def wire_name(self, name: str, child: Node) -> str:
        if self.ec2:
            if child.query_name:
                return child.query_name
            return child.wire[0].upper() + child.wire[1:] if child.wire else name
        if child.type == "list" and child.flattened and child.member is not None and child.member.wire:
            return child.member.wire  # botocore replaces the list's name with its member's
        return child.wire or name

    def list(self, node: Node, raw: Any) -> list[Any]:
        item = node.member
        assert item is not None  # a list shape always has a member
        if raw == "":
            return []
        if not self.ec2 and not node.flattened:
            if not isinstance(raw, dict):
                raise BadValue(raw, "list")
            raw = raw.get(item.wire or "member", {})
            if raw == "":
                return []
        read = self._readers[item.type]
        out = []
        for position, element in enumerate(_indexed(raw), 1):
            try:
                out.append(read(item, element))
            except BadValue as exc:
                exc.path[:0] = [position, "member"]
                raise
        return out

    def map(self, node: Node, raw: Any) -> dict[Any, Any]:
        key_node, value_node = node.key, node.value
        assert key_node is not None and value_node is not None
        if raw == "":
            return {}
        if not node.flattened:
            if not isinstance(raw, dict):
                raise BadValue(raw, "map")
            raw = raw.get("entry", {})
        key_name, value_name = key_node.wire or "key", value_node.wire or "value"
        out: dict[Any, Any] = {}
        for entry in _indexed(raw):
            if not isinstance(entry, dict) or key_name not in entry:
                raise BadValue(entry, "map entry")
            key = self.read(key_node, entry[key_name])
            out[key] = self.read(value_node, entry.get(value_name, ""))
        return out


def _text(node: Node, raw: Any) -> str:
    if not isinstance(raw, str):
        raise BadValue(raw, "string")
    return raw


def _scalar(parse: Callable[[str], Any]) -> Callable[[Node, Any], Any]:
    def read(node: Node, raw: Any) -> Any:
        if not isinstance(raw, str):
            raise BadValue(raw, "value")
        return parse(raw)

    return read
