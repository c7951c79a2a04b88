"""Reading an object's header: a CSV's first line, or the keys of a JSON Lines object's first line.

Gzip objects (``.gz``) are read through their first bytes, decompressed as far as they go.
Shared by Setup (the manifest's header per object), Stage and the local crawler.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zlib

from covid_pipeline.feeds import JSON, is_gzip, object_format

HEADER_PROBE_BYTES = 64 * 1024


def decompressed_head(head: bytes, key: str) -> bytes:
    """The first bytes of an object's content: ``head`` itself, or as much of a gzip prefix as inflates."""
    if not is_gzip(key):
        return head
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)  # gzip wrapper
    try:
        return inflater.decompress(head)
    except zlib.error:
        return b""  # not gzip after all: no header can be read


def parse_header(head: bytes) -> list[str]:
    """Column names from the first line of a CSV given its first bytes (BOM and CRLF tolerated)."""
    text = head.decode("utf-8-sig", errors="replace")
    first_line = text.splitlines()[0] if text else ""
    row = next(csv.reader(io.StringIO(first_line)), [])
    return [name.strip() for name in row]


def json_keys(head: bytes) -> list[str]:
    """The keys of the JSON objects of a JSON Lines text, in order of first appearance ([] when the first is none).

    Every complete line of ``head`` counts (a crawler samples more than one record too): a key only a later
    line has is still a column. A cut-off last line, or a line that is not a JSON object, adds nothing.
    """
    keys: dict[str, None] = {}
    first = True
    for line in head.decode("utf-8-sig", errors="replace").splitlines():
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError:
            value = None
        if not isinstance(value, dict):
            if first:
                return []
            continue
        first = False
        keys.update(dict.fromkeys(str(k) for k in value))
    return list(keys)


def read_header(head: bytes, key: str) -> list[str]:
    """An object's header from its first bytes and its key (which says CSV or JSON, gzip or not)."""
    content = decompressed_head(head, key)
    return json_keys(content) if object_format(key) == JSON else parse_header(content)


def text_problem(head: bytes, key: str) -> str | None:
    """Why an object's first bytes are not a feed's text (CSV or JSON Lines), None when they are.

    The header line must be UTF-8 (its names become the catalog's columns: the crawler and
    every reader of the table decode them), and the bytes read hold no NUL (no text file does;
    a PNG, a spreadsheet or UTF-16 text does). A stray non-UTF-8 byte in a data row is no reason
    to refuse the object: that row is quarantined by Clean, the rest loads.
    """
    if is_gzip(key):
        try:
            content = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head)
        except zlib.error as exc:
            return f"not gzip data although named .gz ({exc})"
        where = " (decompressed)"
    else:
        content, where = head, ""
    line_end = content.find(b"\n")
    first_line = content if line_end < 0 else content[:line_end]
    try:
        first_line.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A multi-byte character cut by the end of the bytes read is not an error of the object.
        if not (line_end < 0 and exc.reason == "unexpected end of data"):
            return f"not UTF-8 text: byte 0x{first_line[exc.start]:02x} at offset {exc.start}{where}"
    nul = content.find(b"\0")
    if nul >= 0:
        return f"not text: NUL byte at offset {nul}{where}"
    return None


def header_signature(columns: list[str]) -> str:
    """Short stable id of a header layout: files with the same one can share a table."""
    return hashlib.sha1("\x1f".join(columns).encode(), usedforsecurity=False).hexdigest()[:8]


def column_names(header: list[str]) -> list[str]:
    """Catalog column names for a header: a blank name becomes ``col<n>`` (n = its position, from 1),
    a repeated one gets ``_<k>`` (its k-th occurrence), so every column can be addressed by name."""
    names: list[str] = []
    taken: set[str] = set()
    for position, name in enumerate(header, start=1):
        candidate = name or f"col{position}"
        k = 1
        while candidate.lower() in taken:
            k += 1
            candidate = f"{name or f'col{position}'}_{k}"
        names.append(candidate)
        taken.add(candidate.lower())
    return names


def overflow_name(columns: list[str]) -> str:
    """Name of the trailing column that receives a row's field past the header's last one."""
    name = "_overflow"
    while name.lower() in {c.lower() for c in columns}:
        name = "_" + name
    return name


def has_data_rows(head: bytes, key: str = "") -> bool:
    """Whether the content (first bytes) has a data row: a line after a CSV's header, or a JSON object."""
    content = decompressed_head(head, key)
    if object_format(key) == JSON:
        return bool(content.strip())
    _, _, rest = content.partition(b"\n")
    return bool(rest.strip())


# How an object's header lines up with its catalog table's header columns (see lines_up).
EXACT = "exact"
PREFIX = "prefix"
_NOT_ALNUM = re.compile(r"[^0-9a-z]")


def _comparable(name: str) -> str:
    # Crawlers lowercase header names (Glue: "positiveIncrease" -> "positiveincrease") and may
    # change punctuation; what is left identifies the column.
    return _NOT_ALNUM.sub("", name.lower())


def lines_up(header: list[str], table_columns: list[str]) -> str:
    """EXACT, PREFIX, or why not: does a position-based reader of the table see this header's columns?

    PREFIX: the table has more columns after the header's last one (a crawler grouped files
    whose headers only add trailing columns, e.g. JHU's 12- and 14-column eras): values still
    land in their columns, but a row of this object is shorter than the table. Anything else
    would shift values. A blank header name matches any column (crawlers name it col<n>), a
    repeated one its suffixed column (``deaths_2``).
    """
    if len(header) > len(table_columns):
        return f"the object has {len(header)} columns, its catalog table {len(table_columns)}"
    for position, (name, column) in enumerate(zip(header, table_columns, strict=False), start=1):
        if name.strip() and not _comparable(column).startswith(_comparable(name)):
            return f"column {position} is {name!r} in the object but {column!r} in its catalog table"
    return EXACT if len(header) == len(table_columns) else PREFIX


def keys_fit(keys: list[str], table_columns: list[str]) -> str:
    """EXACT when a by-name reader of the table sees every key of a JSON object, else why not."""
    known = {_comparable(c) for c in table_columns}
    missing = [k for k in keys if _comparable(k) not in known]
    return EXACT if not missing else f"no column for key(s) {', '.join(missing[:5])}"
