"""The font cache: each face's metrics and common outlines, prepared once per machine and kept in
a file (app.pdf.fonts says what is in it and why); `python -m app.pdf.fontcache` builds them
ahead of time.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import struct
import sys
import tempfile
from array import array
from functools import cache
from pathlib import Path
from typing import Any

import fontTools
from fontTools.ttLib import TTFont
from fpdf.enums import FontDescriptorFlags

from app.config import INSTANCE, private_folder
from app.pdf.cff import charstring
from app.pdf.fonts import CJK_CHARSETS, DEJAVU, LOG, Face, Source, cjk_source, font_file

# The app's own folder (git-ignored); CONFIDE_FONT_CACHE names another.
CACHE_DIR = Path(os.environ.get("CONFIDE_FONT_CACHE") or INSTANCE / "font-cache")
# Raise it whenever what the cache files hold changes (their layout, or what _build and
# charstring make): files of another format are then left alone, and rebuilt under a new name.
FORMAT = 1


MAGIC = b"CONFIDE\x01"


def _key(source: Source, path: Path) -> dict[str, Any]:
    """What a cache file must have been built from to be used."""
    stat = path.stat()
    return {
        "format": FORMAT,
        "fonttools": fontTools.version,
        "file": str(path),
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
        "number": source.number,
        "ranges": [list(r) for r in source.ranges],
        "charset": source.charset,
        "arrays": [sys.byteorder, array("H").itemsize, array("I").itemsize],
    }


def _advance(width: int) -> int:
    return 0 if width == 65535 else width  # as fpdf2 reads it


def _build(source: Source, path: Path) -> tuple[dict[str, Any], array[int], array[int], array[int], array[int], bytes]:
    """Read the font file: its metrics (as fpdf2 computes them) and its common outlines."""
    font = TTFont(path, fontNumber=source.number, lazy=True, recalcTimestamp=False)
    with font:
        cmap, ids, order = font.getBestCmap(), font.getReverseGlyphMap(), font.getGlyphOrder()
        head, hhea, os2, post = font["head"], font["hhea"], font["OS/2"], font["post"]
        hmtx = font["hmtx"].metrics
        scale, box = 1000 / head.unitsPerEm, (head.xMin, head.yMin, head.xMax, head.yMax)
        flags = FontDescriptorFlags.SYMBOLIC
        if post.isFixedPitch:
            flags |= FontDescriptorFlags.FIXED_PITCH
        if post.italicAngle != 0:
            flags |= FontDescriptorFlags.ITALIC
        if os2.usWeightClass >= 600:
            flags |= FontDescriptorFlags.FORCE_BOLD
        metrics = {
            "units_per_em": head.unitsPerEm,
            "name": re.sub("[ ()]", "", font["name"].getBestFullName()),
            "ascent": round(hhea.ascent * scale),
            "descent": round(hhea.descent * scale),
            "cap_height": round(getattr(os2, "sCapHeight", hhea.ascent) * scale),
            "flags": flags.value,
            "font_b_box": "[{:.0f} {:.0f} {:.0f} {:.0f}]".format(*(v * scale for v in box)),
            "bbox": [round(v * scale) for v in box],
            "italic_angle": int(post.italicAngle),
            "stem_v": round(50 + int(pow((os2.usWeightClass / 65), 2))),
            "missing_width": round(scale * hmtx[order[0]][0]),
            "up": round(post.underlinePosition * scale),
            "ut": round(post.underlineThickness * scale),
            "sp": round(os2.yStrikeoutPosition * scale),
            "ss": round(os2.yStrikeoutSize * scale),
        }
        unicodes = array("I", sorted(cmap))
        gids = array("H", (ids[cmap[code]] for code in unicodes))
        # Widths in thousandths of an em, rounded as fpdf2 rounds them.
        widths = array("H", (round(scale * _advance(hmtx[cmap[code]][0]) + 0.001) for code in unicodes))
        glyphs = font.getGlyphSet()
        wanted = {0} | {ids[cmap[code]] for code in source.common() if code in cmap}
        offsets, parts, end = array("I", [0]), [], 0
        for gid, name in enumerate(order):
            if gid in wanted:
                parts.append(charstring(glyphs, name, scale))
                end += len(parts[-1])
            offsets.append(end)
    return metrics, unicodes, gids, widths, offsets, b"".join(parts)


def _pack(key: dict[str, Any], metrics: dict[str, Any], *arrays: array[int], outlines: bytes) -> bytes:
    meta = json.dumps({"key": key, "metrics": metrics, "lengths": [len(a) for a in arrays]}).encode()
    body = b"".join((struct.pack("<I", len(meta)), meta, *(a.tobytes() for a in arrays), outlines))
    return MAGIC + hashlib.sha256(body).digest() + body


def _unpack(
    data: bytes, key: dict[str, Any]
) -> tuple[dict[str, Any], array[int], array[int], array[int], array[int], bytes] | None:
    """The cache file's content, or None if it is damaged or not built from ``key``."""
    body = memoryview(data)[len(MAGIC) + 32 :]
    if data[: len(MAGIC)] != MAGIC or hashlib.sha256(body).digest() != data[len(MAGIC) : len(MAGIC) + 32]:
        return None
    try:
        (size,) = struct.unpack_from("<I", body)
        meta = json.loads(bytes(body[4 : 4 + size]))
        if meta["key"] != key:
            return None
        at, arrays = 4 + size, []
        for typecode, length in zip("IHHI", meta["lengths"], strict=True):
            part = array(typecode)
            part.frombytes(body[at : at + length * part.itemsize])
            arrays.append(part)
            at += length * part.itemsize
        unicodes, gids, widths, offsets = arrays
        outlines = bytes(body[at:])
        if not (
            len(unicodes) == len(gids) == len(widths)
            and offsets[-1] == len(outlines)
            and max(gids, default=0) < len(offsets) - 1
        ):
            return None
        return meta["metrics"], unicodes, gids, widths, offsets, outlines
    except (ValueError, KeyError, IndexError, TypeError, struct.error):
        return None


def _write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` atomically: readers see the old file or the new one."""
    private_folder(path.parent)  # instance/ too, when it makes it
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


def load_face(source: Source) -> Face:
    """The face, from its cache file if that is sound and up to date, else from the font
    file (the cache file is then written anew, if the folder can be written)."""
    path = font_file(source.file, source.package)
    key, cached = _key(source, path), CACHE_DIR / f"{source.family}.v{FORMAT}.bin"
    try:
        parts = _unpack(cached.read_bytes(), key)
    except OSError:
        parts = None
    if parts is None:
        LOG.info("Preparing the font %s for PDFs, once per machine: it is kept in %s", source.family, CACHE_DIR)
        parts = _build(source, path)
        metrics, unicodes, gids, widths, offsets, outlines = parts
        try:
            _write(cached, _pack(key, metrics, unicodes, gids, widths, offsets, outlines=outlines))
        except OSError as error:
            LOG.warning("Could not write the font cache %s: %s", cached, error)
    metrics, unicodes, gids, widths, offsets, outlines = parts
    return Face(source, path, metrics, unicodes, gids, widths, offsets, outlines)


@cache
def dejavu_face() -> Face:
    return load_face(DEJAVU)


@cache
def cjk_face(number: int) -> Face:
    return load_face(cjk_source(number))


def preload_fonts(cjk: tuple[int, ...] = (2,)) -> None:
    """Read the fonts now (some 20-60 ms from the cache) so that no packet waits for them: call
    it before a worker forks, or its jobs read them again every time."""
    dejavu_face()
    for number in cjk:
        cjk_face(number)


def main() -> None:
    """`python -m app.pdf.fontcache [face numbers]`: build the cache files ahead of time (all CJK faces
    by default), so that no PDF waits for them."""
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    numbers = [int(n) for n in sys.argv[1:]] or sorted(CJK_CHARSETS)
    preload_fonts(tuple(numbers))


if __name__ == "__main__":
    main()
