"""Output values -> XML text, for the query, ec2 and rest-xml protocols.

Built as a list of strings (no ElementTree): the shapes already say every name, so the writer is
a walk that appends tags. Element names follow what botocore's XML parser looks up:

    member          locationName or member name
    flattened list  repeated <item-name> where item-name is the list member's locationName,
                    else the member's own name
    list            <Name><member>..</member></Name>   ("item" for ec2; the member's locationName wins)
    map             <Name><entry><key>..</key><value>..</value></entry></Name>  (flattened: no <entry>)
    xmlAttribute    an attribute of the enclosing element; xmlNamespace an xmlns attribute

Text escapes &, <, > and carriage returns (&#13;, which XML parsers would otherwise fold into
newlines); attributes also escape quotes, tabs and newlines.
"""

from __future__ import annotations

import re
from typing import Any, Callable

from keyless.protocol.models import Node
from keyless.protocol.values import blob_text, bool_text, float_text, format_timestamp

_TEXT_SPECIAL = re.compile(r"[&<>\r\x00-\x08\x0b\x0c\x0e-\x1f]")
_ATTR_SPECIAL = re.compile(r"[&<>\"\r\n\t\x00-\x08\x0b\x0c\x0e-\x1f]")


def _char_ref(match: re.Match[str]) -> str:
    ch = match.group()
    return {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}.get(ch) or f"&#{ord(ch)};"


def escape(text: str) -> str:
    return _TEXT_SPECIAL.sub(_char_ref, text) if _TEXT_SPECIAL.search(text) else text


def escape_attr(text: str) -> str:
    return _ATTR_SPECIAL.sub(_char_ref, text) if _ATTR_SPECIAL.search(text) else text


def namespace_attr(namespace: Any) -> str:
    if not namespace:
        return ""
    if isinstance(namespace, dict):
        prefix = namespace.get("prefix")
        name = f"xmlns:{prefix}" if prefix else "xmlns"
        return f' {name}="{escape_attr(namespace.get("uri", ""))}"'
    return f' xmlns="{escape_attr(str(namespace))}"'


class XmlWriter:
    def __init__(self, *, list_item: str = "member") -> None:
        self.list_item = list_item
        self._writers: dict[str, Callable[[str, Node, Any, list[str]], None]] = {
            "structure": self.structure, "list": self.list, "map": self.map,
        }

    def element(self, name: str, node: Node, value: Any, out: list[str]) -> None:
        writer = self._writers.get(node.type)
        if writer is not None:
            writer(name, node, value, out)
        else:
            out.append(f"<{name}{_ns(node)}>{_TEXT.get(node.type, _string)(node, value)}</{name}>")

    def structure(self, name: str, node: Node, value: Any, out: list[str]) -> None:
        out.append(f"<{name}{_ns(node)}{self.attributes(node, value)}>")
        self.members(node, value, out)
        out.append(f"</{name}>")

    def attributes(self, node: Node, value: dict[str, Any]) -> str:
        members = node.cache.get("xml.attrs")
        if members is None:
            members = node.cache["xml.attrs"] = tuple(
                (n, c.wire or n, c) for n, c in node.members.items() if c.xml_attribute)
        if not members:
            return ""
        return "".join(f' {wire}="{scalar_text(child, value[name], attr=True)}"'
                       for name, wire, child in members if value.get(name) is not None)

    def members(self, node: Node, value: dict[str, Any], out: list[str]) -> None:
        """The member elements of a structure (members with an HTTP location are not body)."""
        members = node.cache.get("xml.out")
        if members is None:
            members = node.cache["xml.out"] = tuple(
                (n, self.tag(n, c), c) for n, c in node.members.items() if not (c.location or c.xml_attribute))
        for member_name, tag, child in members:
            member_value = value.get(member_name)
            if member_value is not None:
                self.element(tag, child, member_value, out)

    @staticmethod
    def tag(member_name: str, child: Node) -> str:
        if child.type == "list" and child.flattened and child.member is not None and child.member.wire:
            return child.member.wire
        return child.wire or member_name

    def list(self, name: str, node: Node, value: Any, out: list[str]) -> None:
        item = node.member
        assert item is not None
        if node.flattened:
            for element in value:
                self.element(name, item, element, out)
            return
        item_name = item.wire or self.list_item
        open_tag = f"{name}{_ns(node)}"
        if not value:
            out.append(f"<{open_tag}/>")
            return
        out.append(f"<{open_tag}>")
        for element in value:
            self.element(item_name, item, element, out)
        out.append(f"</{name}>")

    def map(self, name: str, node: Node, value: Any, out: list[str]) -> None:
        key_node, value_node = node.key, node.value
        assert key_node is not None and value_node is not None
        key_name, value_name = key_node.wire or "key", value_node.wire or "value"
        if not node.flattened:
            out.append(f"<{name}{_ns(node)}>")
        for key, element in value.items():
            out.append(f"<{name}>" if node.flattened else "<entry>")
            self.element(key_name, key_node, key, out)
            self.element(value_name, value_node, element, out)
            out.append(f"</{name}>" if node.flattened else "</entry>")
        if not node.flattened:
            out.append(f"</{name}>")


def _ns(node: Node) -> str:
    text = node.cache.get("xml.ns")
    if text is None:
        text = node.cache["xml.ns"] = namespace_attr(node.xml_namespace)
    return text


def _string(node: Node, value: Any) -> str:
    return escape(value if isinstance(value, str) else str(value))


def _timestamp(node: Node, value: Any) -> str:
    return str(format_timestamp(value, node.timestamp_format, "iso8601"))


_TEXT: dict[str, Callable[[Node, Any], str]] = {
    "boolean": lambda node, value: bool_text(value),
    "timestamp": _timestamp,
    "blob": lambda node, value: blob_text(value),
    "float": lambda node, value: float_text(value),
    "double": lambda node, value: float_text(value),
    "integer": lambda node, value: str(int(value)),
    "long": lambda node, value: str(int(value)),
    "short": lambda node, value: str(int(value)),
    "byte": lambda node, value: str(int(value)),
}


def scalar_text(node: Node, value: Any, *, attr: bool = False) -> str:
    if node.type in _TEXT:
        return _TEXT[node.type](node, value)
    text = value if isinstance(value, str) else str(value)
    return escape_attr(text) if attr else escape(text)
