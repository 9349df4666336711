"""Every configured language, as a reporter notices it: every string translated, and the pages
in her language (Spanish walked through here; Chinese and Korean in the browser tests).

The catalog checks read files only; the page checks run through the form as a browser does.
"""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from collections import Counter
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.mofile import read_mo
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.test import TestResponse

from app.cases.models import Case
from app.extensions import db
from tests.helpers import hidden_fields, open_status, receipt_from, submit_report

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "app" / "translations"

# The extraction that builds app/translations/messages.pot (which also passes --omit-header).
EXTRACT_ARGS = ["-F", "babel.cfg", "-k", "_l", "-k", "lazy_gettext", "--no-location", "--sort-output"]

# %(name)d, %(name)s, %s, %d ... as Python's %-formatting reads them; "%%" is a literal percent.
PLACEHOLDER_RE = re.compile(r"%(?:\((\w+)\))?[#0\- +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?([diouxXeEfFgGcrsa%])")
QUOTED_RE = re.compile(r"\u201c([^\u201d]*)\u201d")
SPANISH_MONTHS = [
    "enero",
    "febrero",
    "marzo",
    "abril",
    "mayo",
    "junio",
    "julio",
    "agosto",
    "septiembre",
    "octubre",
    "noviembre",
    "diciembre",
]


# ---------------------------------------------------------------- the catalogs

# The languages of the example configuration, each with its catalog directory (Babel's id).
CONFIGURED = tomllib.loads((ROOT / "config.example.toml").read_text(encoding="utf-8"))["languages"]
TRANSLATED = [tag for tag in CONFIGURED if tag != "en"]
# Text that stays as it is in every language: the name, the emergency number, receipts and
# phone numbers given as examples.
UNTRANSLATED_OK = re.compile(r"^(Confide|911|[\d\s().+-]+)$")
# Words spelled the same in a language as in English.
SAME_AS_ENGLISH = {"es": {"No"}}


def _po_path(tag: str) -> Path:
    return TRANSLATIONS / tag.replace("-", "_") / "LC_MESSAGES" / "messages.po"


def _read_po(path: Path) -> Catalog:
    with path.open("rb") as handle:
        return read_po(handle)


def _texts(value: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


def _entries(catalog: Catalog) -> list[Message]:
    return [message for message in catalog if message.id]


def _placeholders(text: str) -> Counter[str]:
    found: Counter[str] = Counter()
    for name, conversion in PLACEHOLDER_RE.findall(text):
        if conversion != "%":
            found[f"%({name}){conversion}" if name else f"%{conversion}"] += 1
    return found


@pytest.fixture(scope="module", params=TRANSLATED)
def translated(request: pytest.FixtureRequest) -> tuple[str, Catalog]:
    """Each configured language but English, with its catalog."""
    tag: str = request.param
    assert _po_path(tag).exists(), f"{tag} is configured but has no catalog at {_po_path(tag)}"
    return tag, _read_po(_po_path(tag))


@pytest.fixture(scope="module")
def extracted(tmp_path_factory: pytest.TempPathFactory) -> Catalog:
    """The English strings in the code and templates right now, freshly extracted."""
    pot = tmp_path_factory.mktemp("i18n") / "messages.pot"
    pybabel = Path(sys.executable).with_name("pybabel")
    command = [str(pybabel)]
    if not pybabel.exists():
        command = [sys.executable, "-m", "babel.messages.frontend"]
    result = subprocess.run(
        [*command, "extract", *EXTRACT_ARGS, "-o", str(pot), "."],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    catalog = _read_po(pot)
    assert len(_entries(catalog)) > 50, "extraction found almost nothing; is babel.cfg right?"
    return catalog


def test_the_example_configuration_offers_five_languages() -> None:
    assert CONFIGURED == ["en", "es", "zh-Hans", "ko", "pt-BR"]


def test_catalog_header_is_right(translated: tuple[str, Catalog]) -> None:
    tag, catalog = translated
    babel_id = tag.replace("-", "_")
    assert str(catalog.locale) == babel_id
    headers = dict(catalog.mime_headers)
    assert headers["Language"] == babel_id
    nplurals, expression = get_plural(babel_id)
    assert (catalog.num_plurals, catalog.plural_expr) == (nplurals, expression)
    assert headers["Plural-Forms"] == f"nplurals={nplurals}; plural={expression};"
    assert "charset=utf-8" in headers["Content-Type"].lower()
    assert not catalog.fuzzy, "the catalog header is marked fuzzy, so gettext would ignore it"


def test_every_entry_is_translated_and_not_fuzzy(translated: tuple[str, Catalog]) -> None:
    tag, catalog = translated
    fuzzy = [message.id for message in _entries(catalog) if message.fuzzy]
    untranslated = [
        message.id for message in _entries(catalog) if not all(text.strip() for text in _texts(message.string))
    ]
    # A translation identical to the English is a string someone forgot, unless it is a name
    # or a number that reads the same everywhere.
    unchanged = [
        message.id
        for message in _entries(catalog)
        if not message.pluralizable
        and message.string == message.id
        and not UNTRANSLATED_OK.match(message.id)
        and message.id not in SAME_AS_ENGLISH.get(tag, set())
    ]
    assert not fuzzy, f"{tag}: fuzzy entries (gettext ignores them): {fuzzy}"
    assert not untranslated, f"{tag}: entries without a translation: {untranslated}"
    assert not unchanged, f"{tag}: entries left in English: {unchanged}"


def test_every_english_string_in_the_code_is_in_each_catalog(
    extracted: Catalog, translated: tuple[str, Catalog]
) -> None:
    tag, catalog = translated
    babel_id = tag.replace("-", "_")
    missing = [message.id for message in _entries(extracted) if catalog.get(message.id) is None]
    assert not missing, (
        f"English strings with no {tag} entry: run `make messages` and translate them in "
        f"app/translations/{babel_id}: {missing}"
    )
    for message in _entries(extracted):
        if message.pluralizable:
            assert catalog[message.id].pluralizable, f"{message.id!r} needs plural forms in {tag}"
    stale = [message.id for message in _entries(catalog) if extracted.get(message.id) is None]
    assert not stale, f"{tag}: entries no page uses any more (run `make messages`): {stale}"


def test_placeholders_survive_translation(translated: tuple[str, Catalog]) -> None:
    tag, catalog = translated
    for message in _entries(catalog):
        wanted: Counter[str] = Counter()
        for english in _texts(message.id):
            wanted |= _placeholders(english)
        for text in _texts(message.string):
            assert _placeholders(text) == wanted, f"{tag}: placeholders differ in {message.id!r}: {text!r}"
        # Babel's own checker agrees: the compiled catalog would format without errors.
        assert not message.check(catalog), f"{tag}: {message.id!r}: {message.check(catalog)}"


def test_quoted_names_match_what_readers_see(translated: tuple[str, Catalog]) -> None:
    """A string that quotes a button or a choice quotes it as the page in that language shows it."""
    tag, catalog = translated
    entries = [m for m in _entries(catalog) if not m.pluralizable]
    for message in entries:
        english_quotes = QUOTED_RE.findall(message.id)
        quotes = QUOTED_RE.findall(message.string)
        assert len(quotes) == len(english_quotes), f"{tag}: quotes lost or added in {message.id!r}"
        straight = '"' in message.string and '"' not in message.id
        assert not straight, f"{tag}: straight quotes in {message.string!r}"
        for quoted_en, quoted in zip(english_quotes, quotes, strict=True):
            # The English may quote the start of a long choice ("Yes, I will give my name").
            targets = [m for m in entries if m is not message and m.id.startswith(quoted_en)]
            assert targets, f"{message.id!r} quotes “{quoted_en}”, which no string on the site says"
            shown = [m.string for m in targets]
            assert quoted in shown, f"{tag}: {message.string!r} quotes “{quoted}”, but the page shows {shown}"


def test_compiled_catalog_matches_the_po_file(translated: tuple[str, Catalog]) -> None:
    tag, catalog = translated
    mo = _po_path(tag).with_suffix(".mo")
    assert mo.exists(), f"{mo.relative_to(ROOT)} is missing: run `make translations`"
    with mo.open("rb") as handle:
        compiled = read_mo(handle)
    stale = [
        message.id
        for message in _entries(catalog)
        if compiled.get(message.id) is None or _texts(compiled[message.id].string) != _texts(message.string)
    ]
    assert not stale, f"{tag}: messages.mo is older than messages.po; run `make translations`: {stale}"


# ---------------------------------------------------------------- the pages


def _html_lang(response: TestResponse) -> str:
    match = re.search(r'<html lang="([^"]+)"', response.get_data(as_text=True))
    assert match, "the page has no <html lang>"
    return match.group(1)


def _redirect_path(response: TestResponse) -> str:
    assert response.status_code == 303
    location = urlsplit(response.headers["Location"])
    assert location.netloc in ("", "localhost"), f"left the site: {response.headers['Location']}"
    return location.path + (f"?{location.query}" if location.query else "")


def _choose_spanish(client: FlaskClient) -> None:
    """Click the “Español” link on the English page, as a reporter would."""
    page = client.get("/report").get_data(as_text=True)
    link = re.search(r'<a lang="es"[^>]*href="([^"]+)"', page)
    assert link, "the English report page has no link to Spanish"
    assert _redirect_path(client.get(unescape(link.group(1)))) == "/report"


def test_report_page_follows_the_browser_language(client: FlaskClient) -> None:
    spanish = client.get("/report", headers={"Accept-Language": "es-MX,es;q=0.9,en;q=0.5"})
    body = spanish.get_data(as_text=True)
    assert spanish.status_code == 200 and _html_lang(spanish) == "es"
    assert "Hacer un reporte" in body and "Make a report" not in body
    assert "¿Qué pasó?" in body and "Enviar mi reporte" in body  # form labels and buttons too
    assert '<option selected value="es">' in body  # "which language should we use" defaults to it

    english = client.get("/report")
    body = english.get_data(as_text=True)
    assert english.status_code == 200 and _html_lang(english) == "en"
    assert "Make a report" in body and "Hacer un reporte" not in body

    unsupported = client.get("/report", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert _html_lang(unsupported) == "en"


def test_language_link_works_without_javascript(client: FlaskClient) -> None:
    switched = client.get("/language/es?next=/report")
    assert _redirect_path(switched) == "/report"
    page = client.get("/report")  # no Accept-Language: the choice is remembered
    assert _html_lang(page) == "es" and "Hacer un reporte" in page.get_data(as_text=True)

    # The choice outranks the browser's language, both ways.
    assert _redirect_path(client.get("/language/en?next=/report")) == "/report"
    page = client.get("/report", headers={"Accept-Language": "es"})
    assert _html_lang(page) == "en" and "Make a report" in page.get_data(as_text=True)

    # An unknown language changes nothing and still goes where it was asked.
    assert _redirect_path(client.get("/language/xx?next=/report")) == "/report"
    assert _html_lang(client.get("/report")) == "en"


def test_language_link_on_the_page_leads_back_to_the_same_page(client: FlaskClient) -> None:
    _choose_spanish(client)
    page = client.get("/report")
    assert _html_lang(page) == "es"
    back = re.search(r'<a lang="en"[^>]*href="([^"]+)"', page.get_data(as_text=True))
    assert back, "the Spanish page has no link to English"
    assert _redirect_path(client.get(unescape(back.group(1)))) == "/report"


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example",
        "https://evil.example/report",
        "//evil.example",
        "//evil.example/report",
        "http:evil.example",
        "javascript:alert(1)",
        " //evil.example",
        "/\t/evil.example",
        "report",
        "",
    ],
)
def test_language_link_never_leaves_the_site(client: FlaskClient, target: str) -> None:
    response = client.get("/language/es", query_string={"next": target})
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "http://localhost/")
    assert _html_lang(client.get("/report")) == "es"  # the language was still chosen


def _as_a_browser_reads_it(location: str) -> str:
    """The host a browser would go to: it drops tabs and newlines and reads \\ as /."""
    cleaned = re.sub(r"[\t\n\r]", "", location).replace("\\", "/")
    return urlsplit(cleaned).netloc


@pytest.mark.parametrize("target", ["/\\evil.example", "/\\/evil.example", "/%2F/evil.example"])
def test_language_link_is_not_fooled_by_odd_slashes(client: FlaskClient, target: str) -> None:
    response = client.get("/language/es", query_string={"next": target})
    assert response.status_code == 303
    assert _as_a_browser_reads_it(response.headers["Location"]) in ("", "localhost")


def test_language_link_with_a_newline_goes_home(client: FlaskClient) -> None:
    response = client.get("/language/es", query_string={"next": "/\r\n//evil.example"})
    assert response.status_code == 303
    assert response.headers["Location"] in ("/", "http://localhost/")


def test_spanish_report_is_confirmed_in_spanish(client: FlaskClient) -> None:
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "es-US,es;q=0.9"  # a phone set to Spanish
    response = submit_report(
        client,
        narrative="Un cliente hizo comentarios sobre mi cuerpo durante la sesión.",
        language="es",
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200 and _html_lang(response) == "es"
    assert "Recibimos su reporte" in body and "Your report was received" not in body
    assert "Su comprobante:" in body and "Esta es la única vez que se muestra." in body
    receipt = receipt_from(response)
    assert len(receipt.replace("-", "")) == 20
    assert db.session.scalars(select(Case)).one().language == "es"

    # Coming back with the receipt: the status page is in Spanish, dates included.
    status = open_status(client, receipt)
    text = status.get_data(as_text=True)
    assert _html_lang(status) == "es" and "Mi reporte" in text
    assert "Recibido. Una persona de apoyo capacitada lo leerá pronto." in text
    received = re.search(r"Recibido el \d{1,2} de (\w+) de \d{4}\.", text)
    assert received and received.group(1) in SPANISH_MONTHS, "the date is not written in Spanish"
    assert "Todavía no hay mensajes." in text


def test_chosen_language_survives_opening_the_report(client: FlaskClient) -> None:
    _choose_spanish(client)  # the browser itself asks for English
    receipt = receipt_from(submit_report(client, language="es"))
    status = open_status(client, receipt)
    assert _html_lang(status) == "es" and "Mi reporte" in status.get_data(as_text=True)


def test_validation_errors_are_in_spanish(client: FlaskClient) -> None:
    _choose_spanish(client)
    response = submit_report(client, category=None, narrative="Pasó en el trabajo.")
    body = response.get_data(as_text=True)
    assert response.status_code == 400 and _html_lang(response) == "es"
    assert "Algunas respuestas necesitan revisión. Todo lo que escribió sigue aquí." in body
    assert "Por favor, elija la opción que más se parezca. Puede explicarlo más abajo." in body
    assert "Please choose" not in body
    assert "Pasó en el trabajo." in body  # nothing typed is lost

    response = submit_report(client, email="no-es-un-correo", phone="llámame")
    body = unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "Esto no parece una dirección de correo electrónico." in body
    assert "Por favor, escriba el número con dígitos, por ejemplo: 860-555-0100." in body
    # The error names the choice to pick, exactly as that choice reads on the same page.
    assert "Usted eligió mantener el anonimato, pero escribió datos de contacto." in body
    choice = re.search(r"Elija \u201c([^\u201d]+)\u201d", body)
    assert choice and f"<span>{choice.group(1)}</span>" in body

    response = submit_report(client, identity="named", name="")
    body = response.get_data(as_text=True)
    assert "Por favor, escriba un nombre o elija mantener el anonimato." in body


def test_long_narrative_error_shows_the_numbers_in_spanish(client: FlaskClient) -> None:
    _choose_spanish(client)
    limit = client.application.config["CONFIDE"].narrative_max_chars
    response = submit_report(client, narrative="a" * (limit + 1))
    body = response.get_data(as_text=True)
    assert response.status_code == 400
    expected = f"Esto tiene {limit + 1} caracteres; lo máximo que podemos recibir de una vez es {limit}."
    assert expected in body


def test_receipt_errors_and_missing_pages_are_in_spanish(client: FlaskClient) -> None:
    _choose_spanish(client)
    page = client.get("/status")
    assert _html_lang(page) == "es" and "Revisar mi reporte" in page.get_data(as_text=True)
    tokens = hidden_fields(page.get_data(as_text=True))

    empty = client.post("/status", data={**tokens, "receipt": ""})
    assert empty.status_code == 400
    assert "Por favor, escriba su comprobante." in empty.get_data(as_text=True)

    unknown = client.post("/status", data={**tokens, "receipt": "1234-5678-9012-3456-7890"})
    assert unknown.status_code == 400
    assert "No encontramos un reporte con ese comprobante." in unknown.get_data(as_text=True)

    missing = client.get("/no-such-page")
    assert missing.status_code == 404 and _html_lang(missing) == "es"
    assert "No encontramos esta página" in missing.get_data(as_text=True)
