"""The feedback votes as CSV, safe to open in a spreadsheet (`geobot feedback --format csv`
and `/feedback export`).

Questions and answers are text that anyone can type. A cell that starts with `=`, `+`,
`-` or `@` (or a tab or carriage return) is a formula to Excel, LibreOffice and Google
Sheets, which can run commands or leak data when the file is opened ("CSV injection").
Such a cell is written with a leading apostrophe, which spreadsheets show as text.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from bot.state import FeedbackRow

__all__ = ["FEEDBACK_FIELDS", "feedback_csv", "spreadsheet_safe"]

FEEDBACK_FIELDS = (
    "answer_id",
    "user_id",
    "helpful",
    "created_at",
    "question",
    "answer_text",
    "declined",
    "sources",
)

# What makes a spreadsheet read a cell as a formula (OWASP's list). Leading spaces are
# skipped first: some spreadsheets ignore them before a formula sign.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(cell: str) -> str:
    """`cell`, prefixed with an apostrophe when a spreadsheet would read it as a formula."""
    if cell.startswith(FORMULA_STARTS) or cell.lstrip(" ").startswith(FORMULA_STARTS):
        return "'" + cell
    return cell


def feedback_csv(rows: Iterable[FeedbackRow]) -> str:
    """The votes as CSV (a header line, then one line a vote), every cell spreadsheet-safe."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(FEEDBACK_FIELDS)
    for row in rows:
        cells = (
            row.answer_id,
            row.user_id,
            row.helpful,
            row.created_at,
            row.question,
            row.answer_text,
            row.declined,
            " ".join(row.sources),
        )
        writer.writerow([spreadsheet_safe(str(cell)) for cell in cells])
    return buffer.getvalue()
