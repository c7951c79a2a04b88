"""Reading the report page back in tests: its tables by id, as text, and every link it holds."""

from __future__ import annotations

from html.parser import HTMLParser


class Tables(HTMLParser):
    """The page's tables by id: header and rows of cell texts; and every href/src attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self.links: list[str] = []
        self._table: str | None = None
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        self.links += [v or "" for k, v in attrs if k.endswith("href") or k == "src"]
        if tag == "table":
            self._table = values.get("id") or ""
            self.tables[self._table] = []
        elif tag == "tr" and self._table is not None:
            self.tables[self._table].append([])
        elif tag in ("td", "th") and self._table is not None:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._table is not None:
            self.tables[self._table][-1].append("".join(self._cell))
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def parse(page: str) -> Tables:
    tables = Tables()
    tables.feed(page)
    return tables


def records(tables: Tables, table_id: str) -> list[dict[str, str]]:
    header, *rows = tables.tables[table_id]
    return [dict(zip(header, row, strict=True)) for row in rows]


def number(text: str) -> float:
    return float(text.replace(",", ""))
