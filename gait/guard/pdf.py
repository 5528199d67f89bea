"""The compliance report as a PDF, drawn with fpdf2 (``pip install 'pytest-gait[pdf]'``).

Same content as the HTML page. The output is reproducible: the document date is the run's
creation time, so the same pack inputs give the same PDF bytes (and the same digest in the
manifest). Text outside Latin-1 needs a Unicode TrueType font (``--pdf-font PATH``); without
one such characters are drawn as ``?`` and a warning says so.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gait import timefmt
from gait.errors import DependencyMissing, InvalidInput
from gait.guard.report import Report


def _fpdf() -> Any:  # the fpdf module (untyped)
    try:
        import fpdf
    except ImportError as exc:
        raise DependencyMissing(
            "--render-pdf needs fpdf2",
            code="E_PDF_DEPENDENCY_MISSING",
            hint="pip install 'pytest-gait[pdf]' (or pip install fpdf2)",
        ) from exc
    return fpdf


def render_pdf(report: Report, *, font: str | None = None) -> tuple[bytes, list[str]]:
    fpdf = _fpdf()
    pdf = fpdf.FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_creation_date(_doc_date(report))
    pdf.set_title(report.title)
    pdf.set_creator("gait")
    pdf.set_auto_page_break(auto=True, margin=15)
    warnings: list[str] = []
    family = "Helvetica"
    mono = "Courier"
    if font:
        path = Path(font)
        if not path.is_file():
            raise InvalidInput(
                f"PDF font not found: {font}",
                code="E_PDF_FONT_MISSING",
                hint="pass --pdf-font with a readable .ttf file, or leave it out for the core font",
            )
        try:
            pdf.add_font("report", "", str(path))
            pdf.add_font("report", "B", str(path))
        except Exception as exc:  # noqa: BLE001 - fpdf2 raises several types for bad fonts
            raise InvalidInput(
                f"PDF font {font} cannot be used: {exc}",
                code="E_PDF_FONT_INVALID",
                hint="pass a TrueType (.ttf) font",
            ) from exc
        family = mono = "report"
    lossy = []

    def text(value: str) -> str:
        if family == "report":
            return value
        encoded = value.encode("latin-1", "replace").decode("latin-1")
        if encoded != value:
            lossy.append(value)
        return encoded

    pdf.add_page()
    pdf.set_font(family, "B", 16)
    pdf.cell(0, 10, text(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "", 9)
    for key, value in report.facts:
        pdf.set_font(family, "B", 9)
        pdf.cell(38, 5, text(key))
        pdf.set_font(family, "", 9)
        pdf.multi_cell(0, 5, text(value), new_x="LMARGIN", new_y="NEXT")
    _section(pdf, family, "What verifies")
    _rows(pdf, family, ("check", "result", "detail"), report.verdicts, (40, 38, 112), text)
    _section(pdf, family, "What ran")
    _rows(pdf, family, Report.RAN_HEAD, report.ran, (10, 45, 75, 60), text, "no tool calls")
    _section(pdf, family, "What was decided, and by whom")
    _rows(
        pdf, family, Report.DECIDED_HEAD, report.decided, (42, 34, 28, 36, 50), text,
        "no gate traces in this pack",
    )  # fmt: skip
    _section(pdf, family, "What was approved")
    _rows(
        pdf, family, Report.APPROVED_HEAD, report.approved, (42, 42, 42, 46, 18), text,
        "no approval audits in this pack",
    )  # fmt: skip
    _section(pdf, family, "Artifacts and digests (SHA-256)")
    for name, sha in report.artifacts:
        pdf.set_font(family, "", 8)
        pdf.cell(0, 4, text(name), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(mono, "", 7)
        pdf.cell(0, 4, sha, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    pdf.set_font(family, "", 8)
    for note in report.notes:
        pdf.multi_cell(0, 4, text(note), new_x="LMARGIN", new_y="NEXT")
    if lossy:
        warnings.append(
            f"{len(lossy)} text values have characters outside Latin-1, drawn as '?'; "
            "pass --pdf-font FONT.ttf to draw them"
        )
    return bytes(pdf.output()), warnings


def _doc_date(report: Report) -> datetime:
    for key, value in report.facts:
        if key == "Run created":
            try:
                return timefmt.to_datetime(value)
            except InvalidInput:
                break
    return timefmt.to_datetime(timefmt.EPOCH_1980).replace(tzinfo=UTC)


def _section(pdf: Any, family: str, title: str) -> None:  # pdf: an fpdf.FPDF (untyped)
    pdf.ln(3)
    pdf.set_font(family, "B", 12)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")


def _rows(
    pdf: Any,
    family: str,
    head: Any,
    rows: Any,
    widths: Any,
    text: Any,
    empty: str = "none",
) -> None:
    if not rows:
        pdf.set_font(family, "", 9)
        pdf.cell(0, 5, empty, new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font(family, "", 8)
    with pdf.table(col_widths=widths, text_align="LEFT", line_height=4.5) as table:
        header = table.row()
        for cell in head:
            header.cell(cell)
        for values in rows:
            row = table.row()
            for value in values:
                row.cell(text(str(value)))
