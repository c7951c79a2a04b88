"""Row counts of Parquet files from their footers: a few KB per file instead of a second scan.

A Parquet file ends with ``<FileMetaData> <4-byte little-endian length> PAR1``; FileMetaData is a
Thrift struct in the compact protocol whose field 3 is ``num_rows`` (i64) - parquet-format's
parquet.thrift. Only that field is read; every other field is skipped by its wire type, so no
Parquet or Thrift library is needed in the Lambda layer.
"""

from __future__ import annotations

import struct

MAGIC = b"PAR1"
TAIL_BYTES = 8  # footer length (4) + magic (4)
_NUM_ROWS_FIELD = 3
# Thrift compact protocol type ids.
_STOP, _TRUE, _FALSE, _BYTE, _I16, _I32, _I64, _DOUBLE, _BINARY, _LIST, _SET, _MAP, _STRUCT = range(13)


class ParquetFooterError(ValueError):
    pass


def footer_length(tail: bytes) -> int:
    """The FileMetaData length from a file's last 8 bytes."""
    if len(tail) < TAIL_BYTES or tail[-4:] != MAGIC:
        raise ParquetFooterError("not a Parquet file (no PAR1 magic at its end)")
    return int(struct.unpack("<I", tail[-8:-4])[0])


def num_rows(tail: bytes) -> int:
    """``num_rows`` of a Parquet file, given at least its footer and the 8 bytes after it."""
    length = footer_length(tail)
    if len(tail) < length + TAIL_BYTES:
        raise ParquetFooterError(f"need the last {length + TAIL_BYTES} bytes, got {len(tail)}")
    reader = _Reader(tail[len(tail) - TAIL_BYTES - length : len(tail) - TAIL_BYTES])
    field = 0
    while True:
        kind, field = reader.field_header(field)
        if kind == _STOP:
            raise ParquetFooterError("FileMetaData has no num_rows")
        if field == _NUM_ROWS_FIELD and kind == _I64:
            return reader.zigzag()
        reader.skip(kind)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def byte(self) -> int:
        if self.pos >= len(self.data):
            raise ParquetFooterError("FileMetaData ends early")
        self.pos += 1
        return self.data[self.pos - 1]

    def varint(self) -> int:
        shift = result = 0
        while True:
            b = self.byte()
            result |= (b & 0x7F) << shift
            if not b & 0x80:
                return result
            shift += 7

    def zigzag(self) -> int:
        n = self.varint()
        return (n >> 1) ^ -(n & 1)

    def field_header(self, last: int) -> tuple[int, int]:
        b = self.byte()
        kind, delta = b & 0x0F, b >> 4
        if kind == _STOP:
            return _STOP, last
        return kind, (last + delta if delta else self.zigzag())

    def skip(self, kind: int) -> None:
        if kind in (_TRUE, _FALSE):
            return  # a struct field's boolean lives in its header
        if kind == _BYTE:
            self.pos += 1
        elif kind in (_I16, _I32, _I64):
            self.varint()
        elif kind == _DOUBLE:
            self.pos += 8
        elif kind == _BINARY:
            length = self.varint()  # read before moving: ``self.pos += self.varint()`` would lose the varint
            self.pos += length
        elif kind in (_LIST, _SET):
            header = self.byte()
            size = header >> 4 if header >> 4 != 15 else self.varint()
            for _ in range(size):
                self._skip_element(header & 0x0F)
        elif kind == _MAP:
            size = self.varint()
            if size:
                types = self.byte()
                for _ in range(size):
                    self._skip_element(types >> 4)
                    self._skip_element(types & 0x0F)
        elif kind == _STRUCT:
            field = 0
            while True:
                inner, field = self.field_header(field)
                if inner == _STOP:
                    return
                self.skip(inner)
        else:
            raise ParquetFooterError(f"unknown Thrift compact type {kind}")

    def _skip_element(self, kind: int) -> None:
        if kind in (_TRUE, _FALSE):
            self.pos += 1  # in a collection a boolean takes a byte of its own
        else:
            self.skip(kind)
