"""Text from people, made safe to keep and to show: no control characters in, and no
direction override left open where it is shown."""

from __future__ import annotations

import re
from typing import Any

_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
_EMBEDDINGS = "\u202a\u202b\u202d\u202e"  # closed by U+202C (PDF)
_ISOLATES = "\u2066\u2067\u2068"  # closed by U+2069 (PDI)


def without_controls(value: Any) -> Any:
    """``value`` without C0 and C1 control characters but tab and new line, with Windows line
    ends as new lines; anything but text as it is."""
    if not isinstance(value, str):
        return value
    return _CONTROL.sub("", value.replace("\r\n", "\n").replace("\r", "\n"))


def closed_bidi(value: Any) -> Any:
    """``value`` with every direction embedding, override or isolate it opens closed at its end.

    A right-to-left override (U+202E) in a name or a message would otherwise reverse whatever
    the page shows after it: the next column, a button's label. Every value a template shows
    passes through here (the Jinja ``finalize`` hook), in text, attributes and text areas."""
    if not isinstance(value, str) or not _BIDI.search(value):
        return value
    open_: list[str] = []
    for match in _BIDI.finditer(value):
        ch = match.group()
        if ch in _EMBEDDINGS or ch in _ISOLATES:
            open_.append(ch)
        elif ch == "\u202c":
            if open_ and open_[-1] in _EMBEDDINGS:
                open_.pop()
        elif ch == "\u2069" and any(o in _ISOLATES for o in open_):
            # Closing an isolate closes the embeddings opened inside it too.
            while open_.pop() not in _ISOLATES:
                pass
    closers = "".join("\u2069" if o in _ISOLATES else "\u202c" for o in reversed(open_))
    return value + closers if closers else value
