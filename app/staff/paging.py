"""A coordinator's own paging channel, besides email: one Apprise URL (ntfy, Signal, Pushover,
an SMS gateway, Matrix…), sealed at rest like the TOTP secret, and one page sent through it.

The address often holds a token, so it is a secret: sealed in the database, never logged
(Apprise's own log is silenced in app/logs.py), never shown again in full, and never put in a
job, Redis or an audit entry. A page says only that something urgent needs the person and where
to sign in."""

from __future__ import annotations

from dataclasses import dataclass

from apprise import Apprise, AppriseAsset, AppriseResultStatus, NotifyType
from apprise.plugins.base import NotifyBase

from app.config import current_settings
from app.crypto import Keyring, open_field, seal_field
from app.extensions import db
from app.keystore import current_keyring
from app.signals import announce
from app.staff.models import StaffUser
from app.staff.services import StaffError

MAX_URL_LENGTH = 2000
PAGE_TITLE = "Confide: urgent — sign in now"
TEST_TITLE = "Confide: test page"
# What a failed page is recorded as when no exception names it.
NOT_DELIVERED = "not delivered"
TIMED_OUT = "timed out"
UNREADABLE = "address unreadable"
REFUSED = "address refused"

# The Apprise services an address may name: those made to reach a person at once, in their
# secure forms (HTTPS or TLS). Others (syslog, MQTT, desktop notices, a plain TCP or UDP
# target…) page nobody, and would let an address aim test pages at hosts inside the network.
PAGING_SCHEMES = (
    "ntfys",
    "pover",
    "signals",
    "matrixs",
    "tgram",
    "twilio",
    "sns",
    "slack",
    "discord",
    "pagerduty",
    "opsgenie",
    "mailtos",
    "jsons",
)
# Their plain forms, which send pages over plain HTTP (or SMTP without TLS) unless the address
# names a service that is reached over HTTPS anyway (ntfy://topic is ntfy.sh): refused in
# production unless ``paging.allow_plain_http`` is on.
PLAIN_SCHEMES = ("ntfy", "signal", "matrix", "mailto", "json")


@dataclass(frozen=True)
class PageOutcome:
    ok: bool
    # A short code or an exception's class name: never the address or the service's reply.
    error: str | None = None


def sign_in_url() -> str:
    """Where a page sends people: the staff sign-in page of this site."""
    return current_settings().public_link("/staff/login")


def page_text(*, test: bool = False) -> tuple[str, str]:
    """Title and body of a page: content-free, like every notice."""
    if test:
        return (
            TEST_TITLE,
            f"This is a test page from Confide. Nothing needs you now. Real pages link to {sign_in_url()}",
        )
    return PAGE_TITLE, f"Something urgent needs you now. Sign in to Confide: {sign_in_url()}"


def _asset() -> AppriseAsset:
    # Persistent storage off: nothing about the address is written to disk by Apprise.
    return AppriseAsset(service_timeout=current_settings().paging.timeout_seconds, storage_mode="memory")


def _service(url: str, asset: AppriseAsset) -> NotifyBase | None:
    # instantiate() takes exactly one service: a list of addresses is refused.
    return Apprise.instantiate(url.strip(), asset=asset)


def _protocols(value: object) -> set[str]:
    if isinstance(value, str):
        return {value}
    return {str(item) for item in value} if isinstance(value, (tuple, list, set)) else set()


def _insecure(service: NotifyBase) -> bool:
    """Whether pages would travel over plain HTTP, or without checking the certificate: the
    service also has a secure form and the address names the plain one."""
    scheme = str(service.url(privacy=True)).split("://", 1)[0].lower()  # type: ignore[no-untyped-call]
    plain = scheme in _protocols(service.protocol) and bool(_protocols(service.secure_protocol) - {scheme})
    return plain or not service.verify_certificate


def paging_problem(url: str) -> str | None:
    """Why ``url`` cannot be a paging address (a sentence for the person), or None."""
    url = url.strip()
    if not url or len(url) > MAX_URL_LENGTH:
        return "Enter one Apprise address, such as ntfys://ntfy.example.org/your-topic."
    service = _service(url, _asset())
    if service is None:
        return (
            "Apprise does not recognise that address. Check it against the page for your service "
            "in the Apprise documentation, and enter only one address."
        )
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in PAGING_SCHEMES + PLAIN_SCHEMES:
        return (
            "Paging addresses may use only these kinds of Apprise address: "
            + ", ".join(f"{name}://" for name in PAGING_SCHEMES)
            + " (and, where this site allows plain HTTP, "
            + ", ".join(f"{name}://" for name in PLAIN_SCHEMES)
            + ")."
        )
    settings = current_settings()
    if _insecure(service) and settings.env == "production" and not settings.paging.allow_plain_http:
        return (
            "That address would send pages over plain HTTP or without checking the certificate. "
            "Use the service's secure form (for example jsons:// or ntfys://)."
        )
    return None


def _paging_key(ring: Keyring, version: str | None = None) -> bytes:
    return ring.derive("staff/paging", version=version)


def _seal(staff_id: str, url: str) -> bytes:
    return seal_field(
        _paging_key(current_keyring()), url.encode(), record="staff", record_id=staff_id, field="paging_url"
    )


def open_paging(ring: Keyring, staff_id: str, sealed: bytes, version: str | None) -> str:
    """A paging address sealed under root version ``version`` (the row names it)."""
    key = _paging_key(ring, version)
    return open_field(key, sealed, record="staff", record_id=staff_id, field="paging_url").decode()


def paging_url(user: StaffUser) -> str | None:
    """The person's paging address, opened; None if they have none."""
    if user.paging_sealed is None:
        return None
    return open_paging(current_keyring(), user.id, user.paging_sealed, user.paging_root)


def paging_label(user: StaffUser) -> str | None:
    """What the person sees of their address once saved: its kind only ("ntfys://…")."""
    url = paging_url(user)
    return f"{url.split('://', 1)[0].lower()}://…" if url else None


def set_paging_url(user: StaffUser, url: str) -> None:
    """Check, seal and keep ``url`` as the person's paging address, replacing any before."""
    problem = paging_problem(url)
    if problem:
        raise StaffError(problem)
    user.paging_sealed, user.paging_root = _seal(user.id, url.strip()), current_keyring().active_root_id
    db.session.commit()
    announce("paging_changed", actor=user.id, role=user.role, staff=user.id, change="set")


def remove_paging_url(user: StaffUser) -> None:
    """Forget the person's paging address: urgent notices reach them by email only."""
    user.paging_sealed = user.paging_root = None
    db.session.commit()
    announce("paging_changed", actor=user.id, role=user.role, staff=user.id, change="removed")


def send_page(url: str, *, test: bool = False) -> PageOutcome:
    """Send one page to ``url``; bounded by ``paging.timeout_seconds``, whatever the address asks."""
    title, body = page_text(test=test)
    timeout = current_settings().paging.timeout_seconds
    try:
        # An address kept from before a rule tightened is not paged.
        if paging_problem(url):
            return PageOutcome(False, REFUSED)
        asset = _asset()
        service = _service(url, asset)
        if service is None:
            return PageOutcome(False, UNREADABLE)
        # The socket timeouts end the request itself; notify()'s limit bounds the whole page.
        service.socket_connect_timeout = service.socket_read_timeout = float(timeout)
        pager = Apprise(asset=asset)
        pager.add(service)
        result = pager.notify(body=body, title=title, notify_type=NotifyType.WARNING, timeout=timeout)
    except Exception as error:  # noqa: BLE001 - any failure is a failed page; its text may hold the address
        return PageOutcome(False, error.__class__.__name__)
    if result:
        return PageOutcome(True)
    return PageOutcome(False, TIMED_OUT if result.status == AppriseResultStatus.TIMEOUT else NOT_DELIVERED)


def send_test_page(user: StaffUser) -> PageOutcome:
    """A test page to the person's own address, at their request."""
    url = paging_url(user)
    outcome = send_page(url, test=True) if url else PageOutcome(False, UNREADABLE)
    announce("paging_changed", actor=user.id, role=user.role, staff=user.id, change="tested", ok=outcome.ok)
    return outcome
