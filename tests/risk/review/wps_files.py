"""Rewrite an openpyxl-written workbook the way WPS/Excel save it: shared strings, not inline ones."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

_INLINE = re.compile(r'<c ([^>]*?)t="inlineStr"([^>]*)><is><t(?: [^>]*)?>(.*?)</t></is></c>', re.S)
_SST_NS = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
_SST_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"
_SST_REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"


def to_shared_strings(path: Path) -> int:
    """Move every inline string into xl/sharedStrings.xml and write a wrong <dimension> (as some
    tools do); return how many strings moved."""
    with zipfile.ZipFile(path) as source:
        parts = {name: source.read(name) for name in source.namelist()}
    strings: list[str] = []
    index: dict[str, int] = {}

    def shared(match: re.Match[str]) -> str:
        text = match.group(3)
        if text not in index:
            index[text] = len(strings)
            strings.append(text)
        return f'<c {match.group(1)}t="s"{match.group(2)}><v>{index[text]}</v></c>'

    moved = 0
    for name in [n for n in parts if n.startswith("xl/worksheets/sheet")]:
        text, count = _INLINE.subn(shared, parts[name].decode("utf-8"))
        text = re.sub(r'<dimension ref="[^"]*"\s*/>', '<dimension ref="A1"/>', text)  # a wrong one
        parts[name] = text.encode("utf-8")
        moved += count
    items = "".join(f'<si><t xml:space="preserve">{s}</t></si>' for s in strings)
    parts["xl/sharedStrings.xml"] = (
        f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{_SST_NS}" count="{moved}" '
        f'uniqueCount="{len(strings)}">{items}</sst>'
    ).encode()
    types = parts["[Content_Types].xml"].decode("utf-8")
    if "sharedStrings" not in types:
        override = f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_TYPE}"/>'
        parts["[Content_Types].xml"] = types.replace("</Types>", override + "</Types>").encode()
    rels = parts["xl/_rels/workbook.xml.rels"].decode("utf-8")
    if "sharedStrings" not in rels:
        relation = f'<Relationship Id="rIdSST" Type="{_SST_REL}" Target="sharedStrings.xml"/>'
        parts["xl/_rels/workbook.xml.rels"] = rels.replace(
            "</Relationships>", relation + "</Relationships>"
        ).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, data in parts.items():
            target.writestr(name, data)
    return moved
