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
