"""Errors raised by the price-file parsers."""

from __future__ import annotations

from pathlib import Path


class PriceFileError(Exception):
    """Base of the errors about a hospital's price file; one hospital's failure, not the run's."""


class ParseError(PriceFileError):
    """A file could not be parsed. The message names the file, where (a spreadsheet cell such as
    `C17`, a row, or a JSON path) and what was expected there."""

    def __init__(self, file: Path | str, location: str | None, message: str) -> None:
        self.file = str(file)
        self.location = location
        self.detail = message
        where = f" at {location}" if location else ""
        super().__init__(f"{self.file}{where}: {message}")


class NotACmsTemplateError(ParseError):
    """The file is readable but is not in a CMS template layout (a legacy free-form file, an HTML
    page, a PDF ...). A legacy parser can take over from here."""

    def __init__(self, file: Path | str, location: str | None, message: str) -> None:
        super().__init__(file, location, f"not a CMS template file: {message}")


def column_letter(index: int) -> str:
    """0 → A, 25 → Z, 26 → AA: spreadsheet column names, so locations match the CMS validator."""
    letters = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        letters = chr(65 + rem) + letters
    return letters


def cell_name(column_index: int, row_number: int) -> str:
    """A1-style name of a cell from a 0-based column index and a 1-based row number."""
    return f"{column_letter(column_index)}{row_number}"
