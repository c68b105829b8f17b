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


Emit = Callable[[Any, list[str]], None]


class XmlWriter:
    """Writes output values by their shapes. Each (shape, element name) is compiled once into an
    emitter holding its tags and text function, so a response is a walk of prepared closures."""

    def __init__(self, *, list_item: str = "member") -> None:
        self.list_item = list_item
        self._key = f"xml.emit.{list_item}"  # emitters differ by list item name (query vs ec2)

    def members(self, node: Node, value: dict[str, Any], out: list[str]) -> None:
        """The member elements of a structure (members with an HTTP location are not body)."""
        for member_name, emit in self._member_emitters(node):
            member_value = value.get(member_name)
            if member_value is not None:
                emit(member_value, out)

    def emitter(self, name: str, node: Node) -> Emit:
        table = node.cache.get(self._key)
        if table is None:
            table = node.cache[self._key] = {}
        emit = table.get(name)
        if emit is None:
            emit = table[name] = self._compile(name, node)
        return emit

    def _member_emitters(self, node: Node) -> tuple[tuple[str, Emit], ...]:
        key = self._key + ".members"
        members = node.cache.get(key)
        if members is None:  # resolved on first use, so recursive shapes compile lazily
            members = node.cache[key] = tuple(
                (n, self.emitter(self.tag(n, c), c)) for n, c in node.members.items() if not (c.location or c.xml_attribute))
        return members

    def _compile(self, name: str, node: Node) -> Emit:
        if node.type == "structure":
            return self._structure(name, node)
        if node.type == "list":
            return self._list(name, node)
        if node.type == "map":
            return self._map(name, node)
        text, open_tag, close_tag = _TEXT.get(node.type, _string), f"<{name}{_ns(node)}>", f"</{name}>"

        def scalar(value: Any, out: list[str]) -> None:
            out.append(open_tag + text(node, value) + close_tag)
        return scalar

    def _structure(self, name: str, node: Node) -> Emit:
        start, close_tag, attrs = f"<{name}{_ns(node)}", f"</{name}>", bool(_attribute_members(node))

        def structure(value: Any, out: list[str]) -> None:
            out.append(start + (self.attributes(node, value) if attrs else "") + ">")
            self.members(node, value, out)
            out.append(close_tag)
        return structure

    @staticmethod
    def attributes(node: Node, value: dict[str, Any]) -> str:
        """The structure's xmlAttribute members, as attribute text for its opening tag."""
        return "".join(f' {wire}="{scalar_text(child, value[n], attr=True)}"'
                       for n, wire, child in _attribute_members(node) if value.get(n) is not None)

    @staticmethod
    def tag(member_name: str, child: Node) -> str:
        if child.type == "list" and child.flattened and child.member is not None and child.member.wire:
            return child.member.wire
        return child.wire or member_name

    def _list(self, name: str, node: Node) -> Emit:
        item = node.member
        assert item is not None
        if node.flattened:
            def flattened(value: Any, out: list[str]) -> None:
                emit = self.emitter(name, item)
                for element in value:
                    emit(element, out)
            return flattened
        item_name, open_tag = item.wire or self.list_item, f"{name}{_ns(node)}"

        def wrapped(value: Any, out: list[str]) -> None:
            if not value:
                out.append(f"<{open_tag}/>")
                return
            out.append(f"<{open_tag}>")
            emit = self.emitter(item_name, item)
            for element in value:
                emit(element, out)
            out.append(f"</{name}>")
        return wrapped

    def _map(self, name: str, node: Node) -> Emit:
        key_node, value_node = node.key, node.value
        assert key_node is not None and value_node is not None
        key_name, value_name = key_node.wire or "key", value_node.wire or "value"
        entry_open, entry_close = (f"<{name}>", f"</{name}>") if node.flattened else ("<entry>", "</entry>")
        ns = _ns(node)

        def mapping(value: Any, out: list[str]) -> None:
            emit_key, emit_value = self.emitter(key_name, key_node), self.emitter(value_name, value_node)
            if not node.flattened:
                out.append(f"<{name}{ns}>")
            for key, element in value.items():
                out.append(entry_open)
                emit_key(key, out)
                emit_value(element, out)
                out.append(entry_close)
            if not node.flattened:
                out.append(f"</{name}>")
        return mapping


def _attribute_members(node: Node) -> tuple[tuple[str, str, Node], ...]:
    members = node.cache.get("xml.attrs")
    if members is None:
        members = node.cache["xml.attrs"] = tuple((n, c.wire or n, c) for n, c in node.members.items() if c.xml_attribute)
    return members


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
