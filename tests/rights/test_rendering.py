"""What an article's Markdown becomes: nothing that runs, loads or styles anything."""

from __future__ import annotations

import re

import pytest

from app.rights.rendering import render_markdown, sanitise

HOSTILE = """## What to do

<script>alert("boo")</script>

<img src="https://tracker.example/pixel.gif" onerror="alert(1)">

![a photo of the spa](https://tracker.example/spa.jpg)

![inline](data:image/png;base64,iVBORw0KGgo=)

[click me](javascript:alert(1)) and [this too](JAVASCRIPT:alert(2)) and [data](data:text/html,<b>x</b>)

<a href="https://evil.example" style="color:red" onclick="steal()">raw link</a>

<iframe src="https://evil.example"></iframe> <style>body{display:none}</style>
"""


def test_nothing_that_runs_or_loads_survives() -> None:
    html = render_markdown(HOSTILE)
    for tag in ("<script", "<img", "<iframe", "<style", '<a href="https://evil'):
        assert tag not in html.lower()
    for attribute in ("onerror", "onclick", "style=", "src="):
        assert not re.search(rf"<[^>]*{attribute}", html), attribute
    assert "javascript:" not in "".join(re.findall(r'href="([^"]*)"', html)).lower()
    assert 'href="data:' not in html
    # What was typed as HTML is shown as text, so its writer sees it in the preview.
    assert "&lt;script&gt;" in html
    # A Markdown image is its description, without its address, and no link to it either.
    assert "a photo of the spa" in html and "tracker.example/spa.jpg" not in html


def test_links_keep_to_web_mail_and_phone_and_tell_nothing() -> None:
    html = render_markdown(
        "[site](https://example.org/help) [mail](mailto:help@example.org) [call](tel:+18605550100) "
        "[here](/resources) [ftp](ftp://example.org/x)"
    )
    links = re.findall(r"<a ([^>]*)>", html)
    hrefs = re.findall(r'href="([^"]*)"', html)
    assert hrefs == ["https://example.org/help", "mailto:help@example.org", "tel:+18605550100", "/resources"]
    # Every link, the one whose address was dropped too, tells the other site nothing.
    assert links and all('rel="noopener noreferrer nofollow"' in link for link in links)


def test_headings_start_at_h2_under_the_page_title() -> None:
    assert "<h2>Top</h2>" in render_markdown("# Top\n\n## Next")
    assert "<h3>Next</h3>" in render_markdown("# Top\n\n## Next")
    # Written one level down, the structure is kept and starts at h2 all the same.
    assert render_markdown("## A\n\n### B").startswith("<h2>A</h2>\n<h3>B</h3>")


@pytest.mark.parametrize(
    "raw",
    [
        '<img src="https://tracker.example/a.gif">',
        '<p style="background:url(https://tracker.example/b)">x</p>',
        '<a href="javascript:alert(1)">x</a>',
        "<svg><script>alert(1)</script></svg>",
        '<table><tr><td background="https://tracker.example/c">x</td></tr></table>',
    ],
)
def test_html_stored_by_anyone_is_sanitised_again(raw: str) -> None:
    clean = sanitise(raw)
    assert "tracker.example" not in clean and "javascript" not in clean and "<script" not in clean
    assert "style" not in clean and "<svg" not in clean
