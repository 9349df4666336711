"""Charts of the figures, drawn on the server as SVG with pygal: no JavaScript in the browser.

A chart is given only figures that are safe to show; a withheld one is simply not drawn (the
table beside each chart says why). pygal writes a script of its settings into every SVG: it is
taken out, and the SVG is shown as an image (``data:`` URL), where no browser runs scripts and
the page's own CSP stays strict but for allowing such images on this page.
"""

from __future__ import annotations

import base64
import sys
from collections.abc import Sequence
from functools import lru_cache
from xml.etree import ElementTree

import pygal
from pygal.style import Style

# pygal adds an import hook for its map plugins (unused here) that asks every later failed
# import in an outdated way, which Python warns about; it is taken out again.
sys.meta_path[:] = [finder for finder in sys.meta_path if type(finder).__module__ != "pygal"]

SVG = "{http://www.w3.org/2000/svg}"
# Dark blue for the period shown, grey for the one before: apart in print and for colour blindness.
STYLE = Style(
    background="white",
    plot_background="white",
    foreground="#1b1b1b",
    foreground_strong="#1b1b1b",
    foreground_subtle="#6b6b6b",
    colors=("#1f4e79", "#a9b4bf"),
    font_family="system-ui, 'Segoe UI', Roboto, 'Noto Sans', sans-serif",
    label_font_size=13,
    major_label_font_size=13,
    legend_font_size=13,
    value_font_size=12,
    opacity="1",
    opacity_hover="1",
)

Series = tuple[str, tuple[int | None, ...]]


def _svg(chart: pygal.graph.graph.Graph) -> bytes:
    tree = chart.render_tree()
    for parent in list(tree.iter()):
        for child in list(parent):
            if child.tag in (f"{SVG}script", "script"):
                parent.remove(child)
    return ElementTree.tostring(tree, encoding="utf-8")


def _data_url(svg: bytes) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg).decode("ascii")


@lru_cache(maxsize=256)
def bars(labels: tuple[str, ...], series: tuple[Series, ...], *, horizontal: bool = False) -> str:
    """A bar chart of ``series`` (name, one value per label; None is not drawn), as a data URL.

    Kept for the life of the process by its figures: the same figures draw the same chart."""
    kind = pygal.HorizontalBar if horizontal else pygal.Bar
    height = 90 + 26 * len(labels) * max(1, len(series)) // 2 + 12 * len(labels) if horizontal else 300
    chart = kind(
        style=STYLE,
        width=760,
        height=height,
        js=[],
        disable_xml_declaration=True,
        show_legend=len(series) > 1,
        legend_at_bottom=True,
        legend_at_bottom_columns=len(series),
        print_values=True,
        print_zeroes=not horizontal,
        truncate_label=-1,
        min_scale=2,
        max_scale=6,
        margin=12,
        show_y_guides=not horizontal,
        show_x_guides=horizontal,
    )
    # A horizontal chart draws its first label at the bottom: reversed, it reads as the table.
    order = slice(None, None, -1) if horizontal else slice(None)
    chart.x_labels = list(labels)[order]
    for name, values in series:
        chart.add(name, list(values)[order])
    return _data_url(_svg(chart))


def values(figures: Sequence[object]) -> tuple[int | None, ...]:
    """The drawable values of some figures (``suppression.Figure``): None for a withheld one."""
    return tuple(getattr(figure, "value", None) for figure in figures)
