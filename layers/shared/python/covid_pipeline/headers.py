"""Reading a CSV object's header line (shared by the local crawler and tests)."""

from __future__ import annotations

import csv
import hashlib
import io

HEADER_PROBE_BYTES = 64 * 1024


def parse_header(head: bytes) -> list[str]:
    """Column names from the first line of a CSV given its first bytes (BOM and CRLF tolerated)."""
    text = head.decode("utf-8-sig", errors="replace")
    first_line = text.splitlines()[0] if text else ""
    row = next(csv.reader(io.StringIO(first_line)), [])
    return [name.strip() for name in row]


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


def has_data_rows(head: bytes) -> bool:
    """Whether the bytes after the header line hold anything but whitespace."""
    _, _, rest = head.partition(b"\n")
    return bool(rest.strip())
