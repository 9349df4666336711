"""A case's reference: the start of its id, as staff pages show it ("#1a2b3c4d") and as
people read it out or type it back."""

from __future__ import annotations

# Where a case id has its dashes (ids are lowercase UUIDs).
ID_SHAPE = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx"
HEX = frozenset("0123456789abcdef")
SHORTEST = 4


def reference(case_id: str) -> str:
    """The reference staff pages show for a case."""
    return f"#{case_id[:8]}"


def _with_dashes(digits: str) -> str:
    """Hex digits laid out as the start of a case id, dashes where an id has them."""
    laid: list[str] = []
    taken = 0
    for mark in ID_SHAPE:
        if taken == len(digits):
            break
        if mark == "-":
            laid.append("-")
        else:
            laid.append(digits[taken])
            taken += 1
    return "".join(laid)


def reference_range(typed: str) -> tuple[str, str | None] | None:
    """The start of a case id that ``typed`` names, and the first id past every id starting
    so (None: no id is past them); None if ``typed`` cannot be a reference.

    "#" in front and dashes anywhere (or none) are forgiven: dashes are put where an id has
    them. Both bounds are hex digits and dashes laid out as an id, so ``start <= id < next``
    holds exactly the ids with that start, in any collation that sorts digits before letters,
    and is answered from the primary key's index."""
    text = typed.strip().removeprefix("#").strip().lower()
    digits = text.replace("-", "")
    if not SHORTEST <= len(digits) <= 32 or not set(digits) <= HEX:
        return None
    after = int(digits, 16) + 1
    upper = None if after >= 16 ** len(digits) else _with_dashes(f"{after:0{len(digits)}x}")
    return _with_dashes(digits), upper
