"""XML request bodies (rest-xml) -> typed input values, the mirror of botocore's XML parser.

Documents are parsed with defusedxml with DTDs forbidden, so entity expansion ("billion
laughs"), external entities and DTD tricks fail as MalformedXML before any value is read.
Element names follow the same rules as xmlwrite (locationName, flattened lists under their
member's name, <member>/<entry> wrappers, xmlAttribute members from attributes).
"""

from __future__ import annotations

from typing import Any, Callable
from xml.etree.ElementTree import Element, ParseError

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from keyless.protocol.errors import MALFORMED_XML, MalformedXML
from keyless.protocol.models import Node
from keyless.protocol.values import BadValue, parse_blob, parse_bool, parse_float, parse_int, parse_timestamp


def parse_document(body: bytes) -> Element:
    try:
        return SafeET.fromstring(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, RecursionError):
        raise MalformedXML(MALFORMED_XML) from None


def local_name(tag: str) -> str:
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


def _attribute_name(key: str, wanted: str) -> str:
    """{uri}type -> xsi:type, when the member's name says which prefix (as botocore maps it)."""
    if key[:1] != "{":
        return key
    prefix = wanted.split(":")[0] + ":" if ":" in wanted else ""
    return prefix + key.rpartition("}")[2]


class XmlReader:
    def __init__(self) -> None:
        self._readers: dict[str, Callable[[Node, Element], Any]] = {
            "structure": self.structure, "list": self.list, "map": self.map,
            "string": _text, "character": _text, "integer": _scalar(parse_int), "long": _scalar(parse_int),
            "short": _scalar(parse_int), "byte": _scalar(parse_int), "boolean": _scalar(parse_bool),
            "float": _scalar(parse_float), "double": _scalar(parse_float), "timestamp": _scalar(parse_timestamp),
            "blob": _scalar(parse_blob),
        }

    def read(self, node: Node, element: Element) -> Any:
        return self._readers[node.type](node, element)

    def structure(self, node: Node, element: Element) -> dict[str, Any]:
        table = self._table(node)
        out: dict[str, Any] = {}
        for child_element in element:
            entry = table.get(local_name(child_element.tag))
            if entry is None:
                continue
            name, child = entry
            try:
                if child.flattened and child.type == "list":
                    assert child.member is not None
                    out.setdefault(name, []).append(self.read(child.member, child_element))
                elif child.flattened and child.type == "map":
                    out.setdefault(name, {}).update(self._entries(child, [child_element]))
                else:
                    out[name] = self.read(child, child_element)
            except BadValue as exc:
                exc.path.insert(0, name)
                raise
        self._attributes(node, element, out)
        return out

    def _table(self, node: Node) -> dict[str, tuple[str, Node]]:
        table = node.cache.get("xml.in")
        if table is None:
            table = {}
            for name, child in node.members.items():
                if child.location or child.xml_attribute:
                    continue
                if child.type == "list" and child.flattened and child.member is not None and child.member.wire:
                    table[child.member.wire] = (name, child)
                else:
                    table[child.wire or name] = (name, child)
            node.cache["xml.in"] = table
        return table

    def _attributes(self, node: Node, element: Element, out: dict[str, Any]) -> None:
        if not element.attrib:
            return
        for name, child in node.members.items():
            if child.xml_attribute and child.wire:
                for key, value in element.attrib.items():
                    if _attribute_name(key, child.wire) == child.wire:
                        out[name] = value

    def list(self, node: Node, element: Element) -> list[Any]:
        item = node.member
        assert item is not None
        read = self._readers[item.type]
        out = []
        for position, child in enumerate(element, 1):
            try:
                out.append(read(item, child))
            except BadValue as exc:
                exc.path[:0] = [position, "member"]
                raise
        return out

    def map(self, node: Node, element: Element) -> dict[Any, Any]:
        return self._entries(node, [e for e in element if local_name(e.tag) == "entry"])

    def _entries(self, node: Node, entries: list[Element]) -> dict[Any, Any]:
        key_node, value_node = node.key, node.value
        assert key_node is not None and value_node is not None
        key_name, value_name = key_node.wire or "key", value_node.wire or "value"
        out: dict[Any, Any] = {}
        for entry in entries:
            parts = {local_name(e.tag): e for e in entry}
            if key_name not in parts:
                raise BadValue(entry.tag, "map entry")
            key = self.read(key_node, parts[key_name])
            out[key] = self.read(value_node, parts[value_name]) if value_name in parts else ""
        return out


def _text(node: Node, element: Element) -> str:
    return element.text or ""


def _scalar(parse: Callable[[str], Any]) -> Callable[[Node, Element], Any]:
    def read(node: Node, element: Element) -> Any:
        return parse(element.text or "")

    return read
