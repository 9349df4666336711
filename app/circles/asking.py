"""Asking for a circle's place or link, and coming back with the code.

A request keeps a name she chose (sealed), an email if she gave one (sealed), and a keyed index
of her code. The code is a receipt like a report's (app/intake/receipts.py), made from the
form's submission token (app/intake/tokens.py) so that a form sent twice keeps one place and
shows the same code; it is never stored. Her facilitator hears only that someone asked."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.circles.models import Circle, CircleRequest
from app.circles.places import locked_circle, seat_waiting, seated_count
from app.circles.sealing import Where, active_root, open_name, seal_email, seal_name
from app.circles.services import is_open, where
from app.crypto import blind_index
from app.extensions import db
from app.intake.receipts import ReceiptCode
from app.keystore import current_keyring
from app.models import minute_now, new_id
from app.notify.service import notify_staff
from app.signals import announce

INDEX_PURPOSE = "circle-code"
# Told apart from a report form's token, so a code can never be a report's receipt.
TOKEN_PREFIX = "circle:"  # noqa: S105 - a label, not a secret


class CircleClosed(Exception):
    """The circle was cancelled or is over: nobody may ask for it any more."""


@dataclass(frozen=True)
class Asked:
    """A request as its person sees it: her code, and whether she has a place."""

    code: ReceiptCode
    request: CircleRequest
    circle: Circle
    # The same form was sent again: nothing new was kept.
    shown_again: bool = False

    @property
    def where(self) -> Where | None:
        """Where the circle meets, if she has a place in it that is still to come."""
        if self.request.withdrawn or not self.request.seated or not is_open(self.circle):
            return None
        return where(self.circle)


def code_index(code: ReceiptCode, version: str | None = None) -> bytes:
    return blind_index(current_keyring(), INDEX_PURPOSE, str(code), version=version)


def _found(code: ReceiptCode, *, shown_again: bool = False) -> Asked | None:
    """Her request, found under whichever root version its code's index was made; under an
    older one, the index is made again under the active version (only she holds the code)."""
    ring, request = current_keyring(), None
    for version in ring.root_versions():
        request = db.session.scalar(
            select(CircleRequest).where(
                CircleRequest.code_root == version, CircleRequest.code_index == code_index(code, version)
            )
        )
        if request is not None:
            if version != ring.active_root_id:
                request.code_index, request.code_root = code_index(code), ring.active_root_id
                db.session.commit()
            break
    circle = db.session.get(Circle, request.circle_id) if request else None
    if request is None or circle is None:
        return None
    return Asked(code, request, circle, shown_again)


def ask(circle_id: str, *, name: str, email: str, language: str, token: str) -> Asked:
    """Keep a request for ``circle_id``: a place if one is free, otherwise a place in the queue.
    Raises CircleClosed if the circle is cancelled or over."""
    code = ReceiptCode.for_submission(current_keyring(), TOKEN_PREFIX + token)
    again = _found(code, shown_again=True)
    if again is not None:
        return again
    db.session.rollback()  # the lock begins the transaction: SQLite cannot take it midway
    circle = locked_circle(circle_id)
    if circle is None or not is_open(circle):
        db.session.rollback()
        raise CircleClosed(circle_id)
    asked_before = db.session.scalar(
        select(func.max(CircleRequest.position)).where(CircleRequest.circle_id == circle.id)
    )
    request = CircleRequest(
        id=new_id(),
        circle_id=circle.id,
        code_index=code_index(code),
        code_root=current_keyring().active_root_id,
        language=language,
        position=(asked_before or 0) + 1,
        seated=seated_count(circle.id) < circle.capacity,
        withdrawn=False,
        created_at=minute_now(),
    )
    request.name_sealed, request.seal_root = seal_name(request.id, name), active_root()
    request.email_sealed = seal_email(request.id, email) if email else None
    db.session.add(request)
    if circle.facilitator_id:
        notify_staff(circle.facilitator_id, "circle_request", case_id=None, key=f"circle-request:{request.id}")
    try:
        db.session.commit()
    except IntegrityError:
        # The same form, sent twice at once: the other one was kept.
        db.session.rollback()
        again = _found(code, shown_again=True)
        if again is None:
            raise
        return again
    announce("circle_requested", actor="", role="reporter", circle=circle.id, waiting=not request.seated)
    return Asked(code, request, circle)


def find(typed: str) -> Asked | None:
    """The request whose code is ``typed``, or None."""
    code = ReceiptCode.parse(typed)
    return _found(code) if code is not None else None


def leave(asked: Asked) -> None:
    """Give up her place (or her place in the queue); the next in the queue is given it. Her
    name and email go at once: nobody needs them any more."""
    request = asked.request
    db.session.rollback()  # the lock begins the transaction: SQLite cannot take it midway
    circle = locked_circle(request.circle_id)
    db.session.refresh(request)
    if request.withdrawn:
        db.session.rollback()
        return
    request.withdrawn, request.email_sealed, request.notice = True, None, None
    request.name_sealed, request.seal_root = seal_name(request.id, ""), active_root()
    if circle is not None and request.seated:
        seat_waiting(circle)
    db.session.commit()
    announce("circle_left", actor="", role="reporter", circle=request.circle_id)


@dataclass(frozen=True)
class Asker:
    """One person who asked, as the facilitator sees them: the name she chose, and whether
    she has a place or waits for one."""

    name: str
    seated: bool


def askers(circle: Circle) -> list[Asker]:
    """Those who asked for ``circle`` and did not leave, in the order they asked."""
    requests = db.session.scalars(
        select(CircleRequest)
        .where(CircleRequest.circle_id == circle.id, CircleRequest.withdrawn.is_(False))
        .order_by(CircleRequest.position)
    )
    return [
        Asker(open_name(request.id, request.name_sealed, request.seal_root), request.seated) for request in requests
    ]
