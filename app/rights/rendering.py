"""Markdown to HTML a reader's browser can be trusted with.

Two locks, each enough alone: markdown-it-py reads CommonMark with raw HTML off (a ``<script>``
typed in an article stays visible text), and nh3 then keeps only the tags and attributes in
its allowlist below. Nothing here can load anything: an image becomes its description, links
go only to web, mail and phone addresses (or pages of this site) and carry
``rel="noopener noreferrer nofollow"``, and no attribute can hold a script or a style.

Pure functions, no Flask: the same article renders the same in a view, a command or a test.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markdown_it.token import Token

TAGS = frozenset(
    {"p", "br", "hr", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "li", "strong", "em", "blockquote", "code", "pre", "a"}
)
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
URL_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
LINK_REL = "noopener noreferrer nofollow"
# The page's title is its h1: the body's own headings start at h2, whatever level they were written at.
TOP_HEADING = 2


def _image_as_text(self: Any, tokens: Sequence[Token], idx: int, options: Any, env: Any) -> str:
    """An image is shown as the words that describe it, and its address is dropped: nothing
    remote is fetched when a reader opens the page, and nothing is made a link."""
    token = tokens[idx]
    return str(self.renderInlineAsText(token.children or [], options, env))


def _headings_from_h2(state: Any) -> None:
    """Shift every heading so the highest one written is an h2, keeping their order."""
    headings = [token for token in state.tokens if token.type in ("heading_open", "heading_close")]
    if not headings:
        return
    shift = TOP_HEADING - min(int(token.tag[1]) for token in headings)
    for token in headings:
        token.tag = f"h{min(int(token.tag[1]) + shift, 6)}"


def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.add_render_rule("image", _image_as_text)
    parser.core.ruler.push("headings_from_h2", _headings_from_h2)
    return parser


_PARSER = _parser()


def sanitise(html: str) -> str:
    """``html`` with only the allowlisted tags, attributes and link schemes left."""
    return nh3.clean(
        html,
        tags=set(TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel=LINK_REL,
        strip_comments=True,
    )


@functools.lru_cache(maxsize=512)
def render_markdown(body: str) -> str:
    """The article's Markdown as sanitised HTML. Versions never change, so the same text
    always gives the same HTML, kept here for the next reader."""
    return sanitise(_PARSER.render(body))
