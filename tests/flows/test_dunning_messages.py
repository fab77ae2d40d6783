"""What a dunning message says, in nl, fr, en and nb, as e-mail, SMS and letter (PDF)."""

from __future__ import annotations

import dataclasses
import re
import zlib
from datetime import date
from decimal import Decimal
from importlib.resources import files

import pytest
import yaml

from debtflow.flows.dunning.letter import render_letter_pdf
from debtflow.flows.dunning.mail import message_id, render_email, to_mime
from debtflow.flows.dunning.messages import (
    BankTransfer,
    Fee,
    Invoice,
    Message,
    Party,
    PaymentLink,
    how_to_pay,
    language,
)
from debtflow.flows.dunning.sms import GSM7, GSM7_EXTENSION, render_sms, sms_parts
from debtflow.flows.dunning.wording import TEMPLATES, long_date, money

NBSP = "\u00a0"
CREDITOR = Party(
    name="Noordstroom Energie B.V.",
    address=("Postbus 123", "1000 AB Amsterdam"),
    phone="+31 20 123 4567",
    email="incasso@noordstroom.example",
    website="noordstroom.example",
)
AGENCY = Party(
    "Incasso Noord B.V.", ("Postbus 9", "9700 AA Groningen"), "+31 50 000 0000", "x@y.example"
)
TRANSFER = BankTransfer("NL91ABNA0417164300", "1234 5678 9012 3456", "Noordstroom Energie B.V.")
# two demanded invoices (1,234.56 + 80.00) and a reminder fee (15.00) make 1,329.56
INVOICES = (
    Invoice("2026-0101", date(2026, 9, 1), date(2026, 10, 1), Decimal("1234.56")),
    Invoice("2026-0102", date(2026, 9, 15), date(2026, 10, 15), Decimal("80.00")),
)
DISPUTED = (Invoice("2026-0099", date(2026, 8, 1), date(2026, 8, 31), Decimal("60.00")),)
REMINDER_FEE = Fee("reminder_fee", Decimal("15.00"), "Algemene voorwaarden art. 7")
COSTS = Fee("collection_costs", Decimal("185.18"), "art. 6:96 BW; Besluit BIK")


def message(**changes) -> Message:
    base = Message(
        idempotency_key="a" * 64,
        as_of=date(2026, 11, 20),
        language="nl",
        step="final_notice",
        creditor=CREDITOR,
        debtor_name="Jan Jansen",
        customer_number="C-000123",
        postal_address=("Dorpsstraat 1", "1234 AB Ergens"),
        email="jan@example.org",
        mobile="+31612345678",
        currency="EUR",
        invoices=INVOICES,
        disputed=DISPUTED,
        fees=(REMINDER_FEE,),
        costs_if_unpaid=(COSTS,),
        deadline=date(2026, 12, 4),
        payment=TRANSFER,
    )
    return dataclasses.replace(base, **changes)


# language, currency, total, costs, deadline, payment reference label
LANGUAGES = [
    pytest.param(
        "nl",
        "EUR",
        f"€{NBSP}1.329,56",
        f"€{NBSP}185,18",
        "4 december 2026",
        "Betalingskenmerk",
        id="nl",
    ),
    pytest.param(
        "fr",
        "EUR",
        f"1{NBSP}329,56{NBSP}€",
        f"185,18{NBSP}€",
        "4 décembre 2026",
        "Communication structurée",
        id="fr",
    ),
    pytest.param(
        "en", "EUR", "€1,329.56", "€185.18", "4 December 2026", "Payment reference", id="en"
    ),
    pytest.param(
        "nb", "NOK", f"kr{NBSP}1{NBSP}329,56", f"kr{NBSP}185,18", "4. desember 2026", "KID", id="nb"
    ),
]


# --- the message's facts --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("nl", "nl"),
        ("nl-BE", "nl"),
        ("FR_be", "fr"),
        ("no", "nb"),
        ("nn", "nb"),
        ("de", "en"),
        (None, "en"),
    ],
)
def test_languages_are_normalised_and_unknown_ones_become_english(code, expected):
    assert language(code) == expected


def test_an_unknown_language_is_written_in_english():
    assert render_email(message(language="de")).text.startswith("Dear Jan Jansen,")


@pytest.mark.parametrize(
    ("amount", "currency", "lang", "expected"),
    [
        ("1234567.891", "EUR", "nl", f"€{NBSP}1.234.567,89"),
        ("0.5", "EUR", "fr", f"0,50{NBSP}€"),
        ("1234.56", "NOK", "en", f"NOK{NBSP}1,234.56"),
        ("1234.56", "GBP", "en", "£1,234.56"),
        ("999.995", "NOK", "nb", f"kr{NBSP}1{NBSP}000,00"),
    ],
)
def test_amounts_are_written_the_way_each_language_writes_them(amount, currency, lang, expected):
    assert money(Decimal(amount), currency, lang) == expected


def test_the_first_of_the_month_is_premier_in_french():
    assert long_date(date(2026, 12, 1), "fr") == "1er décembre 2026"


def test_a_final_notice_where_no_law_sets_costs_announces_none():
    """The law module states costs for the countries whose law sets them (NL, BE, NO); elsewhere
    the final notice gives the deadline and announces no costs."""
    with_costs, without = render_email(message()), render_email(message(costs_if_unpaid=()))
    assert "185,18" in with_costs.text
    assert "185,18" not in without.text and "art. 6:96" not in without.text


def test_an_invoice_cannot_be_demanded_and_disputed_at_once():
    with pytest.raises(ValueError, match="both demanded and disputed"):
        message(disputed=INVOICES[:1])


def test_personal_data_stays_out_of_the_repr():
    shown = repr(message())
    assert "Jan Jansen" not in shown and "Dorpsstraat" not in shown
    assert "jan@example.org" not in shown and "+31612345678" not in shown


@pytest.mark.parametrize(
    ("method", "link", "expected"),
    [
        ("card", PaymentLink("https://pay.example/1"), PaymentLink),
        ("ideal", PaymentLink("https://pay.example/1"), PaymentLink),
        ("bank_transfer", PaymentLink("https://pay.example/1"), BankTransfer),
        ("card", None, BankTransfer),
        (None, None, BankTransfer),
    ],
)
def test_how_to_pay_follows_the_debtors_usual_method(method, link, expected):
    assert isinstance(how_to_pay(method, TRANSFER, link), expected)


def test_every_language_has_every_text_english_has():
    def keys(tree: dict, prefix: str = "") -> set[str]:
        out = set()
        for k, v in tree.items():
            out |= (
                keys(v, f"{prefix}{k}.") if isinstance(v, dict) and k != "symbols" else {prefix + k}
            )
        return out

    english = keys(yaml.safe_load((TEMPLATES / "en.yml").read_text(encoding="utf-8")))
    for lang in ("nl", "fr", "nb"):
        assert (
            keys(yaml.safe_load((TEMPLATES / f"{lang}.yml").read_text(encoding="utf-8")))
            - {"dates.first_day"}
            == english
        ), lang


def test_the_templates_are_found_through_the_installed_package():
    installed = files("debtflow.flows.dunning") / "templates"
    assert {"email.html", "email.txt", "nl.yml", "fr.yml", "en.yml", "nb.yml"} <= {
        p.name for p in installed.iterdir()
    }


# --- e-mail ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(("lang", "currency", "total", "costs", "deadline", "ref_label"), LANGUAGES)
def test_the_email_states_amount_invoices_costs_deadline_and_how_to_pay(
    lang, currency, total, costs, deadline, ref_label
):
    email = render_email(message(language=lang, currency=currency))
    assert deadline in email.subject
    for body in (email.text, email.html):
        assert total in body
        assert all(i.number in body for i in INVOICES)
        assert costs in body and "art. 6:96 BW; Besluit BIK" in body
        assert REMINDER_FEE.legal_basis in body
        assert deadline in body
        assert "NL91 ABNA 0417 1643 00" in body
        assert ref_label in body and "1234 5678 9012 3456" in body


@pytest.mark.parametrize("lang", ["nl", "fr", "en", "nb"])
def test_disputed_invoices_are_named_as_excluded_and_not_in_the_total(lang):
    msg = message(language=lang)
    excluded = yaml.safe_load((TEMPLATES / f"{lang}.yml").read_text(encoding="utf-8"))["disputed"]
    email = render_email(msg)
    assert msg.total_due == Decimal("1329.56")
    for body in (email.text, email.html):
        # named once, after the sentence that says it is left out (wrapped in text: its start)
        assert body.count("2026-0099") == 1
        assert body.index(excluded[:40]) < body.index("2026-0099")
    assert money(Decimal("1389.56"), "EUR", lang) not in email.text


def test_a_debtor_name_is_escaped_in_html_and_plain_in_text():
    email = render_email(message(debtor_name="<Jan & Co>"))
    assert "&lt;Jan &amp; Co&gt;" in email.html
    assert "<Jan & Co>" not in email.html
    assert "<Jan & Co>" in email.text


def test_the_message_id_is_stable_per_key_and_differs_between_keys():
    first = message_id("a" * 64, "mail.noordstroom.example")
    assert first == message_id("a" * 64, "mail.noordstroom.example")
    assert first != message_id("b" * 64, "mail.noordstroom.example")
    assert re.fullmatch(r"<[0-9a-f]{32}@mail\.noordstroom\.example>", first)


def test_a_resent_mime_message_carries_the_same_message_id():
    msg = message()
    sent = [to_mime(msg, "incasso@noordstroom.example", "jan@example.org", "noordstroom.example")]
    sent.append(
        to_mime(msg, "incasso@noordstroom.example", "jan@example.org", "noordstroom.example")
    )
    assert (
        sent[0]["Message-ID"]
        == sent[1]["Message-ID"]
        == message_id(msg.idempotency_key, "noordstroom.example")
    )
    assert sent[0].get_content_type() == "multipart/alternative"
    parts = [p.get_content_type() for p in sent[0].iter_parts()]
    assert parts == ["text/plain", "text/html"]
    assert "€\u00a01.329,56" in sent[0].get_body(("plain",)).get_content()


def test_a_payment_link_replaces_the_transfer_details():
    email = render_email(message(payment=PaymentLink("https://pay.example/x?a=1&b=2")))
    assert 'href="https://pay.example/x?a=1&amp;b=2"' in email.html
    assert "https://pay.example/x?a=1&b=2" in email.text
    assert "NL91" not in email.text


def test_an_agency_notice_names_the_agency_and_its_contact():
    email = render_email(message(step="agency", agency=AGENCY, costs_if_unpaid=()))
    assert "Incasso Noord B.V." in email.subject
    assert "B.V.." not in email.text
    assert AGENCY.phone in email.text and CREDITOR.phone not in email.text


# --- SMS ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "parts"),
    [
        pytest.param("a" * 160, 1, id="gsm-160-single"),
        pytest.param("a" * 161, 2, id="gsm-161"),
        pytest.param("a" * 306, 2, id="gsm-306"),
        pytest.param("a" * 307, 3, id="gsm-307"),
        pytest.param("€" * 80, 1, id="euro-takes-two"),
        pytest.param("€" * 81, 2, id="euro-81"),
        # the escape pair of € does not fit in the 153rd septet, so it opens part 2
        pytest.param("a" * 152 + "€" + "a" * 152, 3, id="escape-pair-not-split"),
        pytest.param("ç" * 70, 1, id="ucs2-70-single"),
        pytest.param("ç" * 71, 2, id="ucs2-71"),
        pytest.param("ç" * 134, 2, id="ucs2-134"),
        pytest.param("ç" * 135, 3, id="ucs2-135"),
        pytest.param("a" * 66 + "😀" + "a" * 66, 3, id="surrogate-pair-not-split"),
    ],
)
def test_sms_parts_follow_gsm7_and_ucs2_limits(text, parts):
    assert sms_parts(text) == parts


@pytest.mark.parametrize("lang", ["nl", "fr", "en", "nb"])
def test_the_sms_is_gsm7_and_states_amount_deadline_and_how_to_pay(lang):
    msg = message(language=lang)
    text = render_sms(msg)
    assert all(c in GSM7 or c in GSM7_EXTENSION for c in text), lang
    assert sms_parts(text) <= 3
    assert money(msg.total_due, "EUR", lang).replace(NBSP, " ") in text
    assert "NL91ABNA0417164300" in text and "1234 5678 9012 3456" in text
    assert "2026-0101" in text


def test_a_long_sms_drops_the_invoice_list_first():
    many = tuple(
        Invoice(f"2026-{n:04d}", date(2026, 9, 1), date(2026, 10, 1), Decimal("10.00"))
        for n in range(30)
    )
    text = render_sms(message(invoices=many, disputed=()), max_parts=2)
    assert sms_parts(text) <= 2
    assert "2026-0000" not in text
    assert "1234 5678 9012 3456" in text and "04-12-2026" in text


def test_an_sms_with_a_non_gsm_character_fits_the_ucs2_limits():
    creditor = dataclasses.replace(CREDITOR, name="Crédit Façade")  # ç is not GSM-7
    text = render_sms(message(creditor=creditor, language="fr"), max_parts=3)
    assert "ç" in text and 2 <= sms_parts(text) <= 3
    assert len(text) <= 3 * 67


def test_an_sms_that_cannot_fit_is_refused_rather_than_cut():
    creditor = dataclasses.replace(CREDITOR, name="Crédit Façade")
    with pytest.raises(ValueError, match="more than 1"):
        render_sms(message(creditor=creditor), max_parts=1)


# --- letter ---------------------------------------------------------------------------------------


def pdf_text(pdf: bytes) -> str:
    """The page content streams of a PDF with core fonts, as text (Windows-1252); the page
    total that fpdf2 fills in at the end is its own Tj operator, joined back here."""
    streams = re.findall(rb"stream\r?\n(.*?)\r?\nendstream", pdf, re.DOTALL)
    text = "\n".join(zlib.decompress(s).decode("cp1252") for s in streams)
    return text.replace(") Tj (", "")


def pdf_pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type /Page\b(?!s)", pdf))


@pytest.mark.parametrize(("lang", "currency", "total", "costs", "deadline", "ref_label"), LANGUAGES)
def test_the_letter_states_amount_costs_deadline_and_how_to_pay(
    lang, currency, total, costs, deadline, ref_label
):
    pdf = render_letter_pdf(message(language=lang, currency=currency))
    assert pdf.startswith(b"%PDF")
    text = pdf_text(pdf)
    assert total in text and costs in text and deadline in text
    assert all(f"({i.number})" in text for i in INVOICES)
    assert "NL91 ABNA 0417 1643 00" in text and "1234 5678 9012 3456" in text
    assert pdf_pages(pdf) == 1


def test_the_letter_renders_to_the_same_bytes_twice():
    assert render_letter_pdf(message()) == render_letter_pdf(message())


def test_a_ten_invoice_letter_runs_on_to_a_numbered_second_page():
    ten = tuple(
        Invoice(f"2026-{n:04d}", date(2026, 9, 1), date(2026, 10, 1), Decimal("10.00"))
        for n in range(10)
    )
    pdf = render_letter_pdf(message(invoices=ten))
    text = pdf_text(pdf)
    assert pdf_pages(pdf) == 2
    assert "Pagina 1 van 2" in text and "Pagina 2 van 2" in text
    assert all(text.count(f"({i.number})") == 1 for i in ten)


def test_a_long_invoice_table_repeats_its_heading_on_each_page():
    forty = tuple(
        Invoice(f"2026-{n:04d}", date(2026, 9, 1), date(2026, 10, 1), Decimal("10.00"))
        for n in range(40)
    )
    pdf = render_letter_pdf(message(invoices=forty))
    text = pdf_text(pdf)
    assert pdf_pages(pdf) == 2
    assert text.count("(Vervaldatum)") == 2
    assert all(text.count(f"({i.number})") == 1 for i in forty)


def test_a_name_outside_windows_1252_embeds_a_unicode_font():
    msg = message(debtor_name="Łukasz Wójcik", postal_address=("ul. Długa 1", "00-001 Łódź"))
    pdf = render_letter_pdf(msg)
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf
    assert pdf == render_letter_pdf(msg)
