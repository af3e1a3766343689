"""Spreadsheets in and out: CSV (comma, semicolon or tab; UTF-8 with or without BOM) and XLSX.

Cells come back as stripped strings ("" when empty); a whole number Excel stored as 1234.0 comes
back as "1234", so numeric codes survive a trip through a workbook.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from openpyxl import Workbook, load_workbook

from terminology.errors import InvalidParameter, InvalidResource

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def header_key(text: str) -> str:
    """ "ICD-10 Code", "icd_10_code" and " icd 10  code " all become "icd 10 code"."""
    return _NOT_ALNUM.sub(" ", text.casefold()).strip()


@dataclass
class Table:
    headers: list[str]
    rows: list[tuple[int, list[str]]]  # (line or row number in the file, cells)

    def columns(self, aliases: Mapping[str, Sequence[str]]) -> dict[str, int]:
        """Which column holds each field, by the first alias that matches a header."""
        keys = [header_key(h) for h in self.headers]
        found: dict[str, int] = {}
        for field, names in aliases.items():
            for name in names:
                if header_key(name) in keys:
                    found[field] = keys.index(header_key(name))
                    break
        return found


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def read(path: Path, *, sheet: str | None = None) -> Table:
    """The first non-empty row is the header; empty rows are skipped."""
    if not path.is_file():
        raise InvalidParameter(f"{path}: no such file")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        lines = _xlsx(path, sheet)
    elif path.suffix.lower() in (".csv", ".tsv", ".txt"):
        lines = _csv(path)
    else:
        raise InvalidParameter(f"{path}: expected a .csv or .xlsx file")
    rows = [(n, [_cell(v) for v in values]) for n, values in lines]
    rows = [(n, cells) for n, cells in rows if any(cells)]
    if not rows:
        raise InvalidResource(f"{path} has no rows")
    (_, headers), *body = rows
    width = len(headers)
    return Table(headers, [(n, (cells + [""] * width)[:width]) for n, cells in body])


def _xlsx(path: Path, sheet: str | None) -> list[tuple[int, Sequence[Any]]]:
    book = load_workbook(path, read_only=True, data_only=True)
    try:
        if sheet is not None and sheet not in book.sheetnames:
            raise InvalidParameter(f"{path} has no sheet {sheet!r} (it has {', '.join(book.sheetnames)})")
        ws = book[sheet] if sheet else book.worksheets[0]
        return [(n, row) for n, row in enumerate(ws.iter_rows(values_only=True), start=1)]
    finally:
        book.close()


def _csv(path: Path) -> list[tuple[int, Sequence[Any]]]:
    text = path.read_text(encoding="utf-8-sig")
    try:
        dialect: Any = csv.Sniffer().sniff(text[:8192], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    return [(n, row) for n, row in enumerate(csv.reader(io.StringIO(text), dialect), start=1)]


def write(path: Path, headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Write a CSV or XLSX file, by ``path``'s suffix."""
    if path.suffix.lower() == ".xlsx":
        book = Workbook(write_only=True)
        ws = book.create_sheet("map")
        ws.append(list(headers))
        for row in rows:
            ws.append(list(row))
        book.save(path)
        return
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(headers)
        writer.writerows(rows)
