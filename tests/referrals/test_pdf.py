"""The packet PDF as counsel read it: its text, extracted with the real `pdftotext`.

Without poppler-utils or the fonts (fonts-dejavu-core, fonts-noto-cjk) these tests are
skipped, or fail when CONFIDE_REQUIRE_TOOLS=1 (as .ci/run sets it).
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from fontTools.cffLib import CFFFontSet

from app.pdf import fontcache
from app.pdf import fonts as font_files
from app.referrals import pdf
from app.referrals.pdf import FontMissing, render_packet_pdf

SCHEMA = json.loads(Path(pdf.__file__).with_name("packet-v1.schema.json").read_text())
NOTICE = (
    "CONFIDENTIAL. This packet was shared by a peer-support program with the written consent of "
    "the person who reported, for the sole purpose of legal advice or representation. Do not forward it."
)
SPANISH = (
    "Trabajo en un spa en Hartford desde hace dos años. El dueño me pidió que atendiera a clientes "
    "fuera del horario y me amenazó con llamar a inmigración si no lo hacía. ¿Qué puedo hacer? "
)
CHINESE = "他在门外，我很害怕。"
KOREAN = "그가 문 밖에 있어서 무서워요."
REPORTER = {
    "name": "Marisol Ibáñez",
    "email": "marisol@example.org",
    "phone": "860-555-0147",
    "safe_times": "Weekday evenings",
    "voicemail_ok": "No",
    "contact_by": ["phone", "text"],
}
EVENTS = [
    "The report was received.",
    "The case was assigned to a peer responder.",
    "A peer responder acknowledged the report.",
    "A message was sent by the program.",
    "A message was sent by the reporter.",
    "Status changed to In progress.",
    "The reporter changed their consent choices.",
    "A coordinator began a referral to counsel.",
    "A message was sent by the program.",
    "A message was sent by the reporter.",
]


def required(what: str) -> None:
    if os.environ.get("CONFIDE_REQUIRE_TOOLS") == "1":
        pytest.fail(f"{what} (CONFIDE_REQUIRE_TOOLS=1)", pytrace=False)
    pytest.skip(what)


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        required(f"{name} is not installed: install the Debian package poppler-utils")
    return str(path)


@pytest.fixture(autouse=True)
def fonts() -> None:
    try:
        pdf.preload_fonts()
    except FontMissing as missing:
        required(str(missing))


def text_of(data: bytes) -> str:
    """The PDF's text as pdftotext lays it out, pages separated by form feeds."""
    command = [tool("pdftotext"), "-layout", "-enc", "UTF-8", "-", "-"]
    return subprocess.run(command, input=data, capture_output=True, check=True).stdout.decode()


def flat(text: str) -> str:
    """The text without page footers; line breaks and runs of spaces made single spaces."""
    return re.sub(r"\s+", " ", re.sub(r"^Confidential · Referral .*Page \d+ of \d+$", "", text, flags=re.M))


def conforms(value: Any, schema: dict[str, Any]) -> None:
    """The parts of JSON Schema that packet-v1 uses: enough to keep these documents honest."""
    if "oneOf" in schema:
        assert sum(matches(value, option) for option in schema["oneOf"]) == 1, value
        return
    kinds = {"object": dict, "array": list, "string": str, "boolean": bool, "integer": int, "null": type(None)}
    if "type" in schema:
        types = [schema["type"]] if isinstance(schema["type"], str) else schema["type"]
        assert isinstance(value, tuple(kinds[t] for t in types)), (value, types)
    if "const" in schema:
        assert value == schema["const"]
    if "enum" in schema:
        assert value in schema["enum"]
    if isinstance(value, dict):
        assert set(schema.get("required", ())) <= set(value), set(schema["required"]) - set(value)
        assert schema.get("additionalProperties") is not False or set(value) <= set(schema["properties"])
        for key, item in value.items():
            conforms(item, schema["properties"][key])
    if isinstance(value, list) and "items" in schema:
        for item in value:
            conforms(item, schema["items"])


def matches(value: Any, schema: dict[str, Any]) -> bool:
    try:
        conforms(value, schema)
    except AssertionError:
        return False
    return True


def packet(
    narrative: str = SPANISH,
    *,
    language: str = "es",
    reporter: dict[str, Any] | None = None,
    referral_id: str = "R-7Q2M9K",
    **answers: Any,
) -> dict[str, Any]:
    """A packet document, valid against packet-v1.schema.json."""
    at = "2025-03-04T15:06:07Z"
    consent = [
        ("peer_support", True),
        ("legal_referral", True),
        ("identity_to_counsel", reporter is not None),
        ("contact_phone", True),
    ]
    document = {
        "schema": "urn:confide:referral-packet",
        "version": 1,
        "generated_at": at,
        "referral": {
            "id": referral_id,
            "program": "https://confide.example.org",
            "referred_by": "Dana Coordinator",
            "counsel": {"name": "Alex Counsel", "firm": "Counsel & Partners LLP", "email": "alex@counsel.example"},
            "sent_at": at,
        },
        "case": {
            "reference": "C-4F8H2J",
            "received_at": "2025-03-01T09:00:00Z",
            "category": "threats",
            "category_label": "Threats or intimidation",
            "level": 1,
            "language": language,
            "county": "Hartford",
        },
        "scope": {
            "identity_disclosed": reporter is not None,
            "redactions": 0,
            "consent": [{"purpose": p, "granted": g, "recorded_at": "2025-03-01T09:00:00Z"} for p, g in consent],
        },
        "report": {
            "narrative": narrative,
            "perpetrator": "The owner or a manager",
            "setting": "At work",
            "when": "In the past week",
            "danger_now": "No",
            "injured": "",
            "ongoing": "Yes",
            "wants": ["Legal advice", "Help keeping my license"],
            **answers,
        },
        "reporter": reporter,
        "timeline": [{"at": f"2025-03-0{1 + i // 4}T1{i}:00:00Z", "event": event} for i, event in enumerate(EVENTS)],
        "confidentiality": NOTICE,
    }
    conforms(document, SCHEMA)
    return document


def test_the_confidentiality_notice_comes_first() -> None:
    text = text_of(render_packet_pdf(packet()))

    assert text.lstrip().startswith("Confidential referral packet")
    assert NOTICE in flat(text)
    assert flat(text).index("Do not forward it.") < flat(text).index("Referral ID")
    for detail in (
        "R-7Q2M9K",
        "Alex Counsel",
        "Counsel & Partners LLP",
        "Dana Coordinator",
        "C-4F8H2J",
        "Threats or intimidation (threats)",
        "Spanish (es)",
        "Hartford",
        "2025-03-04 15:06 UTC",
    ):
        assert detail in text


def test_the_narrative_is_there_in_full_with_its_accents() -> None:
    text = text_of(render_packet_pdf(packet(SPANISH * 8)))

    assert flat(SPANISH * 8).strip() in flat(text)
    assert re.search(r"Injured\s+Not answered", text)
    assert re.search(r"What the reporter wants\s+• Legal advice\n\s+• Help keeping my license", text)


@pytest.mark.parametrize(
    ("language", "narrative"), [("zh-Hans", CHINESE), ("ko", KOREAN), ("es", f"{CHINESE} {KOREAN} y español")]
)
def test_chinese_and_korean_narratives_are_legible(language: str, narrative: str) -> None:
    text = text_of(render_packet_pdf(packet(narrative, language=language)))

    assert narrative in text


def test_the_identity_is_withheld_when_the_reporter_did_not_consent() -> None:
    text = text_of(render_packet_pdf(packet()))

    assert "Identity withheld at the reporter's request" in text
    assert "Reporter identity" not in text
    assert "Safe times" not in text


def test_the_identity_is_there_when_the_reporter_consented() -> None:
    text = text_of(render_packet_pdf(packet(reporter=REPORTER)))

    assert "Identity withheld" not in text
    assert "Reporter identity" in text
    for detail in ("Marisol Ibáñez", "marisol@example.org", "860-555-0147", "Weekday evenings"):
        assert detail in text
    assert re.search(r"Agreed ways of contact\s+Phone call, Text message", text)


def test_a_long_narrative_runs_over_numbered_pages() -> None:
    narrative = "PRINCIPIO " + "\n\n".join([SPANISH * 6] * 6) + " FINAL"
    pages = text_of(render_packet_pdf(packet(narrative))).rstrip("\f").split("\f")

    assert len(pages) >= 3
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert "Confidential · Referral R-7Q2M9K" in page
    everything = flat("".join(pages))
    assert "PRINCIPIO Trabajo" in everything and "hacer? FINAL" in everything
    assert everything.count("¿Qué puedo hacer?") == 36


def test_hostile_text_renders_without_error(caplog: pytest.LogCaptureFixture) -> None:
    word = "x" * 500
    narrative = (
        f"Antes \U0001f984\U0001f44d\u200d emoji, nul\x00 bell\x07 \ud800 surrogate, \u202eoverride, "
        f"{{nb}} pages, {word} después"
    )
    document = packet(narrative, perpetrator="\x1b[31mred\x1b[0m", setting=word, referral_id="R-\U0001f4a3")

    with caplog.at_level(logging.WARNING):
        text = text_of(render_packet_pdf(document))

    assert not caplog.records, [record.getMessage() for record in caplog.records]
    everything = flat(text)
    assert "Antes \ufffd\ufffd emoji, nul bell \ufffd surrogate, override, {nb} pages," in everything
    assert everything.count("x") >= 1000  # the long word, cut over several lines, twice
    assert "después" in everything and "[31mred[0m" in everything
    assert "\x00" not in text and "\x1b" not in text
    assert "Referral R-\ufffd" in text
    assert "\ufffd marks a character this PDF cannot show; packet.json has the text exactly as written." in everything


def test_several_packets_in_a_row_each_come_out_right() -> None:
    """Fonts are read once per process and shared; every PDF must still get its own."""
    documents = [
        packet(SPANISH),
        packet(CHINESE, language="zh-Hans"),
        packet("Übergriff im Spa"),
        packet(KOREAN, language="ko"),
        packet(f"{SPANISH} Ελληνικά, русский"),
    ]
    for document in documents:
        assert flat(document["report"]["narrative"]).strip() in flat(text_of(render_packet_pdf(document)))


def test_a_packet_comes_out_the_same_whatever_came_before() -> None:
    first = render_packet_pdf(packet())
    render_packet_pdf(packet(f"Łódź, Œuvre, Þórður, Ærøskøbing, Ελληνικά, русский, {CHINESE}", language="zh-Hans"))

    assert render_packet_pdf(packet()) == first


def test_packets_rendered_at_once_in_threads_are_the_same_as_one_by_one() -> None:
    documents = [packet(SPANISH), packet("Übergriff im Spa"), packet(f"{SPANISH} Ελληνικά")] * 4
    expected = [render_packet_pdf(document) for document in documents]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads take turns often, so that any shared state would show
    try:
        with ThreadPoolExecutor(max_workers=4) as pool:
            assert list(pool.map(render_packet_pdf, documents)) == expected
    finally:
        sys.setswitchinterval(interval)


def test_rendering_logs_nothing_of_the_report(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG):
        render_packet_pdf(packet(f"{CHINESE} secreto"))

    logged = " ".join(record.getMessage() for record in caplog.records)
    assert "secreto" not in logged and "uni4ED6" not in logged and "Glyph names" not in logged


def test_the_metadata_names_the_packet_and_its_time() -> None:
    command = [tool("pdfinfo"), "-isodates", "-"]
    info = subprocess.run(command, input=render_packet_pdf(packet()), capture_output=True, check=True).stdout.decode()

    assert re.search(r"^Title:\s+Referral packet$", info, re.M)
    assert re.search(r"^CreationDate:\s+2025-03-04T15:06:07Z$", info, re.M)
    assert re.search(r"^Page size:\s+612 x 792 pts \(letter\)", info, re.M)


def test_a_missing_font_names_the_debian_package(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(font_files.FONT_DIRS, "fonts-noto-cjk", (str(tmp_path),))

    with pytest.raises(FontMissing, match="install the Debian package fonts-noto-cjk"):
        font_files.font_file("NotoSansCJK-Regular.ttc", "fonts-noto-cjk")


# The fonts' cache (app/pdf/fonts.py): each face's metrics and common outlines, kept on disk.

SMALL = font_files.Source("testdejavu", "DejaVuSans.ttf", "fonts-dejavu-core", ranges=((0x41, 0x5A),))


def outlines(face: font_files.Face, text: str) -> list[bytes]:
    return [face.outline(face.template.glyph_ids[ord(char)]) for char in text]


@pytest.fixture
def cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(fontcache, "CACHE_DIR", tmp_path / "font-cache")
    return tmp_path / "font-cache"


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The faces read from their font file from now on."""
    built: list[str] = []
    build = fontcache._build

    def counted(source: font_files.Source, path: Path) -> Any:
        built.append(source.family)
        return build(source, path)

    monkeypatch.setattr(fontcache, "_build", counted)
    return built


def test_the_font_cache_is_built_once_then_read(cache: Path, builds: list[str]) -> None:
    first = fontcache.load_face(SMALL)
    again = fontcache.load_face(SMALL)

    assert builds == ["testdejavu"]
    assert [path.name for path in cache.iterdir()] == [f"testdejavu.v{fontcache.FORMAT}.bin"]
    assert outlines(again, "AZaz€") == outlines(first, "AZaz€")
    assert again.template.cw == first.template.cw and again.template.glyph_ids == first.template.glyph_ids


def damaged(data: bytes, damage: str) -> bytes:
    if damage == "a flipped bit":
        return data[: len(data) // 2] + bytes([data[len(data) // 2] ^ 0x40]) + data[len(data) // 2 + 1 :]
    if damage == "cut short":
        return data[:-100]
    if damage == "empty":
        return b""
    if damage == "not a cache file":
        return b"%PDF-1.4\n" + data[9:]
    # Sound, but made with another fontTools, whose outlines may differ.
    key = fontcache._key(SMALL, font_files.font_file(SMALL.file, SMALL.package))
    metrics, *arrays, outlines = fontcache._unpack(data, key)  # type: ignore[misc]
    return fontcache._pack(key | {"fonttools": "1.0"}, metrics, *arrays, outlines=outlines)


@pytest.mark.parametrize("damage", ["a flipped bit", "cut short", "empty", "not a cache file", "another fontTools"])
def test_a_damaged_or_stale_font_cache_is_rebuilt_not_trusted(cache: Path, builds: list[str], damage: str) -> None:
    sound = fontcache.load_face(SMALL)
    path = next(cache.iterdir())
    path.write_bytes(damaged(path.read_bytes(), damage))

    rebuilt = fontcache.load_face(SMALL)

    assert builds == ["testdejavu", "testdejavu"]
    assert outlines(rebuilt, "AZ") == outlines(sound, "AZ")
    fontcache.load_face(SMALL)
    assert len(builds) == 2, "the rebuilt file is sound"


def test_a_font_cache_from_another_font_file_is_rebuilt(
    cache: Path, builds: list[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """A font package upgrade changes the file's size or mtime."""
    original = font_files.font_file("DejaVuSans.ttf", "fonts-dejavu-core")
    (tmp_path / "DejaVuSans.ttf").write_bytes(original.read_bytes())
    monkeypatch.setitem(font_files.FONT_DIRS, "fonts-dejavu-core", (str(tmp_path),))
    fontcache.load_face(SMALL)
    fontcache.load_face(SMALL)
    os.utime(tmp_path / "DejaVuSans.ttf", ns=(0, 1_000_000_000))

    fontcache.load_face(SMALL)

    assert builds == ["testdejavu", "testdejavu"]


def test_fonts_work_when_the_cache_cannot_be_written(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("")
    monkeypatch.setattr(fontcache, "CACHE_DIR", tmp_path / "a-file" / "font-cache")

    with caplog.at_level(logging.WARNING, logger="app.pdf.fonts"):
        face = fontcache.load_face(SMALL)

    assert outlines(face, "AZ") and "Could not write the font cache" in caplog.text


def test_outlines_converted_when_first_needed_are_those_of_the_cache(cache: Path) -> None:
    """The same document gives the same bytes whether its glyphs came from the cache or not."""
    cached = fontcache.load_face(font_files.DEJAVU)
    uncached = fontcache.load_face(font_files.Source("bare", "DejaVuSans.ttf", "fonts-dejavu-core"))
    text = "Aé€жΩ→☃"  # the last two are not among DejaVu's common characters: never cached

    assert outlines(uncached, text) == outlines(cached, text)
    assert uncached.program({3, 36, 171}) == cached.program({3, 36, 171})


def test_the_embedded_font_programs_hold_just_the_glyphs_shown() -> None:
    face = fontcache.cjk_face(2)
    cids = {face.template.glyph_ids[ord(char)] for char in CHINESE}
    program = CFFFontSet()
    program.decompile(io.BytesIO(face.program(cids)), None)
    top = program[program.fontNames[0]]

    assert top.ROS == ("Adobe", "Identity", 0)
    assert top.charset == [".notdef", *(f"cid{cid:05d}" for cid in sorted(cids))]
    info = subprocess.run(
        [tool("pdffonts"), "-"],
        input=render_packet_pdf(packet(CHINESE, language="zh-Hans")),
        capture_output=True,
        check=True,
    ).stdout.decode()
    fonts = info.splitlines()[2:]
    assert len(fonts) == 2 and all(re.search(r"CID Type 0C\s+Custom\s+yes yes yes", font) for font in fonts)


def test_characters_beyond_the_common_ones_show_too() -> None:
    """Outside GB2312 and KS X 1001: converted from the font file when first needed."""
    rare = "㐀㑇𠀋 丟並 똠뙇 ☃ Ωμ"
    text = text_of(render_packet_pdf(packet(rare, language="zh-Hans")))

    assert rare in text
