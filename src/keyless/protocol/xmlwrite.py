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
            out.append(f"<{name}{namespace_attr(node.xml_namespace)}>{scalar_text(node, value)}</{name}>")

    def structure(self, name: str, node: Node, value: Any, out: list[str]) -> None:
        attrs = namespace_attr(node.xml_namespace) + self.attributes(node, value)
        out.append(f"<{name}{attrs}>")
        self.members(node, value, out)
        out.append(f"</{name}>")

    def attributes(self, node: Node, value: dict[str, Any]) -> str:
        parts = []
        for member_name, child in node.members.items():
            if child.xml_attribute and value.get(member_name) is not None:
                parts.append(f' {child.wire or member_name}="{scalar_text(child, value[member_name], attr=True)}"')
        return "".join(parts)

    def members(self, node: Node, value: dict[str, Any], out: list[str]) -> None:
        """The member elements of a structure (members with an HTTP location are not body)."""
        for member_name, child in node.members.items():
            member_value = value.get(member_name)
            if member_value is None or child.location or child.xml_attribute:
                continue
            self.element(self.tag(member_name, child), child, member_value, out)

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
        open_tag = f"{name}{namespace_attr(node.xml_namespace)}"
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
            out.append(f"<{name}{namespace_attr(node.xml_namespace)}>")
        for key, element in value.items():
            out.append(f"<{name}>" if node.flattened else "<entry>")
            self.element(key_name, key_node, key, out)
            self.element(value_name, value_node, element, out)
            out.append(f"</{name}>" if node.flattened else "</entry>")
        if not node.flattened:
            out.append(f"</{name}>")


def scalar_text(node: Node, value: Any, *, attr: bool = False) -> str:
    kind = node.type
    if kind == "boolean":
        return bool_text(value)
    if kind == "timestamp":
        return str(format_timestamp(value, node.timestamp_format, "iso8601"))
    if kind == "blob":
        return blob_text(value)
    if kind in ("float", "double"):
        return float_text(value)
    if kind in ("integer", "long", "short", "byte"):
        return str(int(value))
    text = value if isinstance(value, str) else str(value)
    return escape_attr(text) if attr else escape(text)
