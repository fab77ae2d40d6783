"""A dunning message as a printed letter: A4 PDF for a window envelope, more pages if need be.

fpdf2's core Helvetica writes Windows-1252, which holds every letter of the Dutch, French,
English and Norwegian texts and the euro sign, and embeds no font: a letter takes milliseconds.
A name or address outside it (Łódź, Đorđević) is set in DejaVu Sans, which matplotlib installs,
embedded as a subset. The creation date is as_of and the file ID a hash of the content, so the
same message renders to the same bytes after a crash.
"""

from __future__ import annotations

from datetime import UTC, datetime, time
from importlib.util import find_spec
from pathlib import Path

from fpdf import FPDF
from fpdf.errors import FPDFUnicodeEncodingException

from debtflow.flows.dunning.messages import Message
from debtflow.flows.dunning.wording import FeeRow, InvoiceRow, Wording, wording

# Millimetres on A4. The address fits the left window of a DL or C5 envelope (NEN 1026 and
# DIN 5008 form B both put it about 25 mm from the left edge and 45-50 mm from the top).
LEFT, RIGHT, TOP, BOTTOM = 25, 20, 15, 22
WIDTH = 210 - LEFT - RIGHT
WINDOW_X, WINDOW_Y, WINDOW_W = LEFT, 50, 85
INFO_X = 125
SUBJECT_Y = 95
LINE = 5
COLUMNS = (55, 35, 35, 40)  # invoice, issue date, due date, amount
LABEL_W = sum(COLUMNS[:3])
DEJAVU = Path(find_spec("matplotlib").origin).parent / "mpl-data" / "fonts" / "ttf"


def render_letter_pdf(msg: Message) -> bytes:
    """The letter as PDF bytes, identical for the same message; in DejaVu Sans only if
    Helvetica lacks a character of it."""
    w = wording(msg)
    try:
        return _render(msg, w, unicode=False)
    except FPDFUnicodeEncodingException:
        return _render(msg, w, unicode=True)


class _Letter(FPDF):
    """A4 letter whose every page ends with the creditor's name and 'page n of N'."""

    def __init__(self, wording: Wording, family: str) -> None:
        super().__init__(format="A4", unit="mm")
        self.wording, self.family = wording, family

    def footer(self) -> None:
        w = self.wording
        self.set_y(-15)
        self.set_font(self.family, size=7.5)
        self.set_text_color(100)
        self.cell(WIDTH / 2, 4, w.creditor)
        page = w.label["page"].format(page=self.page_no(), pages="{nb}")  # fpdf2's total alias
        self.cell(WIDTH / 2, 4, page, align="R")
        self.set_text_color(0)


def _render(msg: Message, w: Wording, unicode: bool) -> bytes:
    pdf = _Letter(w, "DejaVu" if unicode else "Helvetica")
    if unicode:
        pdf.add_font("DejaVu", "", DEJAVU / "DejaVuSans.ttf")
        pdf.add_font("DejaVu", "B", DEJAVU / "DejaVuSans-Bold.ttf")
    else:
        pdf.core_fonts_encoding = "windows-1252"
    pdf.set_creation_date(datetime.combine(msg.as_of, time(), tzinfo=UTC))
    pdf.set_lang(msg.language)
    pdf.set_title(w.subject)
    pdf.set_author(w.creditor)
    pdf.set_margins(LEFT, TOP, RIGHT)
    pdf.set_auto_page_break(True, margin=BOTTOM)
    pdf.add_page()
    _letterhead(pdf, msg)
    _address(pdf, msg, w)
    _body(pdf, w)
    return bytes(pdf.output())


def _letterhead(pdf: _Letter, msg: Message) -> None:
    c = msg.creditor
    pdf.set_xy(LEFT, TOP)
    pdf.set_font(pdf.family, "B", 16)
    pdf.cell(WIDTH - 60, 8, c.name)
    pdf.set_font(pdf.family, "", 8)
    pdf.set_xy(210 - RIGHT - 60, TOP + 1)
    for line in (*c.address, c.phone, c.email, c.website):
        if line:
            pdf.cell(60, 3.8, line, align="R", new_x="LEFT", new_y="NEXT")


def _address(pdf: _Letter, msg: Message, w: Wording) -> None:
    """Return address, the debtor's address in the window, and date and customer number."""
    pdf.set_xy(WINDOW_X, WINDOW_Y - 5)
    pdf.set_font(pdf.family, "", 6.5)
    pdf.cell(WINDOW_W, 3, " · ".join((msg.creditor.name, *msg.creditor.address)))
    pdf.set_xy(WINDOW_X, WINDOW_Y)
    pdf.set_font(pdf.family, "", 10)
    for line in (msg.debtor_name, *msg.postal_address):
        pdf.cell(WINDOW_W, LINE, line, new_x="LEFT", new_y="NEXT")
    pdf.set_xy(INFO_X, WINDOW_Y)
    pdf.set_font(pdf.family, "", 9)
    for key, value in (("date", w.date), ("customer_number", w.customer_number)):
        pdf.cell(32, LINE, w.label[key] + w.colon)
        pdf.cell(0, LINE, value, new_x="LEFT", new_y="NEXT")
        pdf.set_x(INFO_X)


def _body(pdf: _Letter, w: Wording) -> None:
    pdf.set_xy(LEFT, SUBJECT_Y)
    pdf.set_font(pdf.family, "B", 11)
    _lines(pdf, w.subject, WIDTH, 6)
    pdf.ln(4)
    _paragraph(pdf, w.greeting)
    if w.lapsed:
        _paragraph(pdf, w.lapsed)
    _paragraph(pdf, w.intro)
    _invoices(pdf, w)
    if w.disputed:
        _paragraph(pdf, w.disputed, after=1)
        for row in w.disputed_invoices:
            line = f"{w.label['invoice']} {row.number} ({row.issued}){w.colon} {row.amount}"
            pdf.cell(WIDTH, LINE, f"–  {line}", new_x="LMARGIN", new_y="NEXT")
        pdf.ln(3)
    _paragraph(pdf, w.request)
    if w.costs:
        _paragraph(pdf, w.costs, after=1)
        for fee in w.costs_if_unpaid:
            _fee(pdf, fee)
        pdf.ln(3)
    if w.offer:
        _offer(pdf, w)
    _payment(pdf, w)
    _paragraph(pdf, w.contact)
    _paragraph(pdf, w.closing, after=0)
    _paragraph(pdf, w.creditor)


def _paragraph(pdf: _Letter, text: str, after: float = 3) -> None:
    pdf.set_font(pdf.family, "", 10)
    _lines(pdf, text, WIDTH, LINE)
    pdf.ln(after)


def _lines(pdf: _Letter, text: str, width: float, height: float) -> None:
    """Text wrapped at spaces (never at no-break spaces), left-aligned, kept on one page."""
    lines = _wrap(pdf, text, width)
    if pdf.will_page_break(len(lines) * height):
        pdf.add_page()
    for line in lines:
        pdf.cell(width, height, line, new_x="LMARGIN", new_y="NEXT")


def _wrap(pdf: _Letter, text: str, width: float) -> list[str]:
    """Greedy word wrap. fpdf2's multi_cell measures the whole line again for every character
    it adds, which made it three quarters of a letter's rendering time; word widths add up."""
    space = pdf.get_string_width(" ")
    lines, words, used = [], [], 0.0
    for word in text.split(" "):
        w = pdf.get_string_width(word)
        if words and used + space + w > width:
            lines.append(" ".join(words))
            words, used = [], 0.0
        used += (space if words else 0) + w
        words.append(word)
    lines.append(" ".join(words))
    return lines


def _invoices(pdf: _Letter, w: Wording) -> None:
    """The invoices, the fees charged and the total, the heading repeated on each new page."""
    _table_head(pdf, w)
    for row in w.invoices:
        if pdf.will_page_break(LINE):
            pdf.add_page()
            _table_head(pdf, w)
        _invoice(pdf, row)
    for fee in w.fees:
        _fee(pdf, fee)
    if pdf.will_page_break(2 * LINE + 2):
        pdf.add_page()
    pdf.set_font(pdf.family, "B", 10)
    pdf.cell(LABEL_W, LINE + 1, w.label["total"], border="T")
    pdf.cell(COLUMNS[3], LINE + 1, w.total, border="T", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(LABEL_W, LINE, w.label["deadline"])
    pdf.cell(COLUMNS[3], LINE, w.deadline, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _table_head(pdf: _Letter, w: Wording) -> None:
    pdf.set_font(pdf.family, "B", 9)
    keys = ("invoice", "issue_date", "due_date", "open_amount")
    for key, width in zip(keys, COLUMNS, strict=True):
        pdf.cell(width, LINE + 1, w.label[key], border="B", align="R" if key == keys[-1] else "L")
    pdf.ln()


def _invoice(pdf: _Letter, row: InvoiceRow) -> None:
    pdf.set_font(pdf.family, "", 9)
    for value, width in zip(row[:3], COLUMNS, strict=False):
        pdf.cell(width, LINE, value)
    pdf.cell(COLUMNS[3], LINE, row.amount, align="R", new_x="LMARGIN", new_y="NEXT")


def _fee(pdf: _Letter, fee: FeeRow) -> None:
    """A fee on one line, the legal basis that allows it in small print below."""
    if pdf.will_page_break(2 * LINE):
        pdf.add_page()
    pdf.set_font(pdf.family, "", 9)
    pdf.cell(LABEL_W, LINE, fee.label)
    pdf.cell(COLUMNS[3], LINE, fee.amount, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.family, "", 7.5)
    pdf.set_text_color(90)
    _lines(pdf, fee.legal_basis, LABEL_W, 3.5)
    pdf.set_text_color(0)
    pdf.ln(1)


def _offer(pdf: _Letter, w: Wording) -> None:
    """The payment plan offered: the sentence, one line per instalment, how to accept."""
    _paragraph(pdf, w.offer, after=1)
    if pdf.will_page_break(len(w.offer_rows) * LINE):
        pdf.add_page()
    pdf.set_font(pdf.family, "", 9)
    for label, amount in w.offer_rows:
        pdf.cell(LABEL_W, LINE, label)
        pdf.cell(COLUMNS[3], LINE, amount, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _paragraph(pdf, w.offer_accept)


def _payment(pdf: _Letter, w: Wording) -> None:
    """How to pay, in a shaded box that is never split over two pages."""
    rows = w.payment or ((w.label["link"], w.pay_url),)
    height = len(rows) * LINE + 4
    if pdf.will_page_break(height + 3):
        pdf.add_page()
    pdf.set_fill_color(240)
    pdf.rect(LEFT, pdf.y, WIDTH, height, style="F")
    pdf.ln(2)
    for label, value in rows:
        pdf.set_x(LEFT + 3)
        pdf.set_font(pdf.family, "", 10)
        pdf.cell(45, LINE, label + w.colon)
        pdf.set_font(pdf.family, "B", 10)
        pdf.cell(WIDTH - 51, LINE, value, link=w.pay_url, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(5)
