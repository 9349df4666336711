"""Every route against every identity: deny by default, and another responder's case is a 404.

The table below is written by hand, on purpose: it is what we expect, not what the app
declares. A route added without a line here fails ``test_every_route_is_in_the_table``.
"""

from __future__ import annotations

import dataclasses
import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from pyrage import x25519
from sqlalchemy import func, select
from werkzeug.routing import Rule
from werkzeug.test import TestResponse

from app.audit.models import AuditEntry
from app.cases.models import Case
from app.circles.models import Circle
from app.extensions import db
from app.forms import signed_out_recovery
from app.referrals import directory
from app.referrals.models import Referral
from app.rights import library as rights_library
from app.rights.models import ArticleVersion
from app.staff import profiles
from app.staff import services as staff_services
from app.staff.models import StaffUser, Training
from tests.circles.factories import make_circle
from tests.factories import Counsel, Staff, make_case, make_referral, make_staff, sign_in
from tests.helpers import hidden_fields, open_status

# Roles, as the table names them. Anonymous is a visitor with no session at all.
ANONYMOUS, REPORTER, RESPONDER, COORDINATOR, COUNSEL = "anonymous", "reporter", "responder", "coordinator", "counsel"
EVERYONE = frozenset({ANONYMOUS, REPORTER, RESPONDER, COORDINATOR, COUNSEL})
STAFF = frozenset({RESPONDER, COORDINATOR, COUNSEL})
CASE_WORKERS = frozenset({RESPONDER, COORDINATOR})
COORDINATORS = frozenset({COORDINATOR})
# Who writes the know-your-rights library (only coordinators publish).
WRITERS = frozenset({COORDINATOR, COUNSEL})

# Where a visitor who may not use a route is sent.
RECEIPT = "receipt"  # everyone refused is sent to /status to enter their receipt (303)
SIGN_IN = "sign in"  # anonymous and reporters go to the staff sign-in page (303); staff of another role get 404

# The identities the matrix plays, and the role each one has.
IDENTITIES = {
    "anonymous": ANONYMOUS,
    "reporter": REPORTER,
    "responder A": RESPONDER,
    "responder B": RESPONDER,
    "coordinator": COORDINATOR,
    "counsel": COUNSEL,
}
CASE_MARKER = "narrative-marker-5e1f only A and coordinators may read"


@dataclass(frozen=True)
class Route:
    methods: str
    allowed: frozenset[str]
    refused_to: str | None = None
    # The URL names responder A's case: a responder sees it only if it is assigned to them.
    own_case: bool = False
    # No session opens it, whatever its role: only a bearer token from the configuration
    # does, and nobody here sends one, so every identity gets 404.
    bearer: bool = False
    # The URL names a circle responder A facilitates: another responder gets 404, audited.
    own_circle: bool = False


ROUTES: dict[str, Route] = {
    "set_language": Route("GET", EVERYONE),
    "intake.home": Route("GET", EVERYONE),
    "intake.report": Route("GET POST", EVERYONE),
    "intake.report_language": Route("POST", EVERYONE),
    "intake.talk": Route("GET POST", EVERYONE),
    "intake.talk_language": Route("POST", EVERYONE),
    "intake.resources": Route("GET", EVERYONE),
    "intake.quick_exit": Route("GET", EVERYONE),
    "intake.status": Route("GET POST", EVERYONE),
    "intake.status_case": Route("GET", frozenset({REPORTER}), RECEIPT),
    "intake.status_message": Route("POST", frozenset({REPORTER}), RECEIPT),
    "intake.status_consent": Route("POST", frozenset({REPORTER}), RECEIPT),
    "intake.status_logout": Route("POST", EVERYONE),
    "intake.licensing_letter": Route("GET", frozenset({REPORTER}), RECEIPT),
    "intake.status_report": Route("GET POST", frozenset({REPORTER}), RECEIPT),
    "intake.status_report_language": Route("POST", frozenset({REPORTER}), RECEIPT),
    # A POST that only carries its token is not her confirmation: nothing is deleted.
    "intake.status_delete": Route("GET POST", frozenset({REPORTER}), RECEIPT),
    "staff.login": Route("GET POST", EVERYONE),
    "staff.login_code": Route("GET POST", EVERYONE),
    "staff.enrol": Route("GET POST", EVERYONE),
    "staff.logout": Route("POST", STAFF, SIGN_IN),
    "staff.reauth": Route("GET POST", STAFF, SIGN_IN),
    "staff.profile": Route("GET POST", STAFF, SIGN_IN),
    "paging.edit": Route("GET POST", COORDINATORS, SIGN_IN),
    "paging.test": Route("POST", COORDINATORS, SIGN_IN),
    "paging.remove": Route("POST", COORDINATORS, SIGN_IN),
    "people.index": Route("GET", COORDINATORS, SIGN_IN),
    "insights.dashboard": Route("GET", COORDINATORS, SIGN_IN),
    "insights.figures_csv": Route("GET", COORDINATORS, SIGN_IN),
    "insights.summary_pdf": Route("GET", COORDINATORS, SIGN_IN),
    "people.invite": Route("POST", COORDINATORS, SIGN_IN),
    "people.edit": Route("GET POST", COORDINATORS, SIGN_IN),
    "people.add_training": Route("POST", COORDINATORS, SIGN_IN),
    "people.remove_training": Route("POST", COORDINATORS, SIGN_IN),
    "people.deactivate": Route("POST", COORDINATORS, SIGN_IN),
    "people.identity": Route("POST", COORDINATORS, SIGN_IN),
    "people.reset": Route("POST", COORDINATORS, SIGN_IN),
    "people.recovery_codes": Route("POST", COORDINATORS, SIGN_IN),
    "people.unlock": Route("POST", COORDINATORS, SIGN_IN),
    "people.reactivate": Route("POST", COORDINATORS, SIGN_IN),
    "people.load": Route("GET", COORDINATORS, SIGN_IN),
    "load.own": Route("GET", CASE_WORKERS, SIGN_IN),
    "load.take_break": Route("POST", CASE_WORKERS, SIGN_IN),
    "load.back": Route("POST", CASE_WORKERS, SIGN_IN),
    "account.password": Route("GET POST", STAFF, SIGN_IN),
    "account.device": Route("GET POST", STAFF, SIGN_IN),
    "account.new_device": Route("GET POST", STAFF, SIGN_IN),
    "cases.queue": Route("GET", CASE_WORKERS, SIGN_IN),
    "cases.case": Route("GET", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.acknowledge": Route("POST", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.claim": Route("POST", COORDINATORS, SIGN_IN, own_case=True),
    "cases.assign": Route("POST", COORDINATORS, SIGN_IN, own_case=True),
    "cases.change_status": Route("POST", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.important": Route("POST", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.note": Route("POST", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.message": Route("POST", CASE_WORKERS, SIGN_IN, own_case=True),
    "cases.search": Route("POST", CASE_WORKERS, SIGN_IN),
    "cases.export": Route("GET", COORDINATORS, SIGN_IN),
    "retention.hold": Route("POST", COORDINATORS, SIGN_IN, own_case=True),
    "retention.release": Route("POST", COORDINATORS, SIGN_IN, own_case=True),
    "audit_log.index": Route("GET", COORDINATORS, SIGN_IN),
    "audit_log.verify_chain": Route("POST", COORDINATORS, SIGN_IN),
    "people.counsel_profile": Route("POST", COORDINATORS, SIGN_IN),
    "referrals.create": Route("POST", COORDINATORS, SIGN_IN, own_case=True),
    "referrals.send": Route("POST", COORDINATORS, SIGN_IN),
    "referrals.revoke": Route("POST", COORDINATORS, SIGN_IN),
    "referrals.close": Route("POST", frozenset({COORDINATOR, COUNSEL}), SIGN_IN),
    "referrals.packet": Route("GET", frozenset({COORDINATOR, COUNSEL}), SIGN_IN),
    "referrals.directory": Route("GET", COORDINATORS, SIGN_IN),
    "referrals.portal": Route("GET", frozenset({COUNSEL}), SIGN_IN),
    "referrals.counsel_referral": Route("GET", frozenset({COUNSEL}), SIGN_IN),
    "referrals.acknowledge": Route("POST", frozenset({COUNSEL}), SIGN_IN),
    "referrals.decide": Route("POST", frozenset({COUNSEL}), SIGN_IN),
    "rights.index": Route("GET", EVERYONE),
    "rights.article": Route("GET", EVERYONE),
    "rights_staff.index": Route("GET", WRITERS, SIGN_IN),
    "rights_staff.new_article": Route("POST", WRITERS, SIGN_IN),
    "rights_staff.article": Route("GET", WRITERS, SIGN_IN),
    "rights_staff.new_version": Route("POST", WRITERS, SIGN_IN),
    "rights_staff.matches": Route("POST", COORDINATORS, SIGN_IN),
    "rights_staff.preview": Route("GET", WRITERS, SIGN_IN),
    "rights_staff.publish": Route("POST", COORDINATORS, SIGN_IN),
    "rights_staff.unpublish": Route("POST", COORDINATORS, SIGN_IN),
    "circles.index": Route("GET", EVERYONE),
    "circles.circle": Route("GET", EVERYONE),
    "circles.calendar": Route("GET", EVERYONE),
    "circles.ask": Route("GET POST", EVERYONE),
    "circles.code": Route("GET POST", EVERYONE),
    "circles.leave": Route("POST", EVERYONE),
    "circle_admin.index": Route("GET", CASE_WORKERS, SIGN_IN),
    "circle_admin.new": Route("GET POST", COORDINATORS, SIGN_IN),
    "circle_admin.circle": Route("GET", CASE_WORKERS, SIGN_IN, own_circle=True),
    "circle_admin.edit": Route("GET POST", COORDINATORS, SIGN_IN),
    "circle_admin.cancel": Route("POST", COORDINATORS, SIGN_IN),
    "health.healthz": Route("GET", EVERYONE),
    "health.readyz": Route("GET", EVERYONE),
    "health.metrics": Route("GET", EVERYONE, bearer=True),
}
CASE_ROUTES = sorted(e for e, r in ROUTES.items() if r.own_case)


class World:
    """Real people with real sessions, and a case assigned to responder A.

    Only the identities a test names are created and signed in (hashing passwords is slow);
    the account coordinators manage and the enrolment link are made when a URL needs them."""

    def __init__(self, app: Flask, client: FlaskClient, identities: tuple[str, ...]) -> None:
        self.app, self.client = app, client
        owner = make_staff("responder", name="Alice Realname", pseudonym="Willow")
        self.staff: dict[str, Staff] = {"responder A": owner}
        for identity in identities:
            if IDENTITIES[identity] in STAFF and identity not in self.staff:
                self.staff[identity] = make_staff(IDENTITIES[identity], name=f"{identity.title()} Realname")
        self.case = make_case(assigned_to=self.staff["responder A"], narrative=CASE_MARKER)
        self._person: Staff | None = None
        self._invite_token: str | None = None
        self._referral: tuple[str, bytes] | None = None
        self._rights: ArticleVersion | None = None
        self._circle: str | None = None
        # identity → (session cookie or None, a CSRF token valid in that session)
        self.sessions: dict[str, tuple[str | None, str]] = {}
        self._own: Case | None = None
        for identity in identities:
            self.sign_in(identity)

    def sign_in(self, identity: str) -> None:
        """Start ``identity``'s session (again, after it signed out: sign-outs end every copy)."""
        self.client.delete_cookie("confide")
        if identity == "anonymous":
            self._keep_session(identity, "/status")
        elif identity == "reporter":
            if self._own is None:
                self._own = make_case(narrative="the reporter's own report", wants=("licensing",))
            assert "Received." in open_status(self.client, self._own.receipt).get_data(as_text=True)
            self._keep_session(identity, "/status/case")
        else:
            assert sign_in(self.client, self.staff[identity]).status_code == 303
            self._keep_session(identity, "/staff/profile")

    def _keep_session(self, identity: str, page: str) -> None:
        response = self.client.get(page)
        assert response.status_code == 200, f"{identity} cannot open {page}"
        cookie = self.client.get_cookie("confide")
        token = hidden_fields(response.get_data(as_text=True))["csrf_token"]
        self.sessions[identity] = (cookie.value if cookie else None, token)

    @property
    def person(self) -> Staff:
        """The account coordinators edit, train and deactivate in the matrix."""
        if self._person is None:
            # Counsel, so that their directory entry can be edited too.
            self._person = make_staff("counsel", name="Pat Person")
        return self._person

    def values(self, rule: Rule, case_id: str | None = None) -> dict[str, object]:
        """Real values for every argument of ``rule``."""
        makers = {
            "case_id": lambda: case_id or self.case.id,
            "staff_id": lambda: self.person.id,
            "training_id": self.training_id,
            "token": self.invite_token,
            "code": lambda: "en",
            "referral_id": self.referral_id,
            "slug": self.rights_slug,
            "article_id": lambda: self.rights_version().article_id,
            "version_id": lambda: self.rights_version().id,
            "circle_id": self.circle_id,
        }
        missing = rule.arguments - makers.keys()
        assert not missing, f"{rule.rule}: give World.values a real value for {sorted(missing)}"
        return {name: makers[name]() for name in rule.arguments}

    def invite_token(self) -> str:
        if self._invite_token is None:
            url = staff_services.invite_staff("new-person@example.org", "responder", name="New Person")
            self._invite_token = url.rsplit("/", 1)[1]
        return self._invite_token

    def training_id(self) -> int:
        training = db.session.scalar(select(Training).where(Training.staff_id == self.person.id))
        if training is None:
            training = profiles.add_training(
                self.person.user,
                by=self.person.user,
                course="Trauma-informed peer support",
                category="all",
                completed_on=date(2024, 1, 1),
                expires_on=date(2030, 1, 1),
            )
        return training.id

    def referral_id(self) -> str:
        """A referral of the world's case, sent to the counsel identity."""
        if self._referral is None:
            counsel = self.staff.get("counsel") or make_staff("counsel")
            coordinator = self.staff.get("coordinator") or make_staff("coordinator")
            directory.save_counsel_profile(
                counsel.user,
                by=coordinator.user,
                firm="Harbor Legal Aid",
                practice_areas=[],
                languages="en",
                age_recipient=str(x25519.Identity.generate().to_public()),
            )
            referral = make_referral(self.case, Counsel(counsel, x25519.Identity.generate()), coordinator)
            self._referral = (referral.id, referral.packet or b"")
        return self._referral[0]

    def rights_version(self) -> ArticleVersion:
        """A library article with one version, published, so that its public page exists too."""
        if self._rights is None:
            coordinator = self.staff.get("coordinator") or make_staff("coordinator")
            text = rights_library.Draft("en", "Your tips are yours", "In short.", "Yours.", date(2026, 1, 1))
            self._rights = rights_library.start_article("tips", ["exploitation"], text, by=coordinator.user)
            rights_library.publish(self._rights, by=coordinator.user)
        return self._rights

    def rights_slug(self) -> str:
        return self.rights_version().article.slug

    def circle_id(self) -> str:
        """A circle responder A facilitates."""
        if self._circle is None:
            coordinator = self.staff.get("coordinator") or make_staff("coordinator")
            self._circle = make_circle(by=coordinator, facilitator=self.staff["responder A"]).id
        return self._circle

    def restore(self) -> None:
        """Undo what an allowed request may have changed, so every request meets the same world."""
        db.session.expire_all()
        case = db.session.get(Case, self.case.id)
        assert case is not None
        case.assigned_to_id = self.staff["responder A"].id
        if self._person is not None:
            person = db.session.get(StaffUser, self._person.id)
            assert person is not None
            person.active = True
        for staff in self.staff.values():
            # A sign-out ends every session of its person: the world's cookies live again.
            person = db.session.get(StaffUser, staff.id)
            assert person is not None
            person.session_epoch = 0
        if self._rights is not None:
            # Published again, should a request have withdrawn it; drafts a request added stay.
            version = db.session.get(ArticleVersion, self._rights.id)
            assert version is not None
            version.state = "published"
        if self._referral is not None:
            referral = db.session.get(Referral, self._referral[0])
            assert referral is not None
            referral.status, referral.packet = "sent", self._referral[1]
        if self._circle is not None:
            circle = db.session.get(Circle, self._circle)
            assert circle is not None
            circle.cancelled_at = None
        db.session.commit()

    def send(self, identity: str, method: str, url: str, *, token: bool = True) -> TestResponse:
        """One request as ``identity``, in the session it had just after signing in."""
        cookie, csrf = self.sessions[identity]
        self.client.delete_cookie("confide")
        if cookie is not None:
            self.client.set_cookie("confide", cookie)
        if method == "GET":
            return self.client.get(url)
        return self.client.post(url, data={"csrf_token": csrf} if token else {})


@pytest.fixture
def make_world(app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch) -> Callable[..., World]:
    # A metrics token is configured, so a 404 from /metrics means a session does not open it.
    settings = dataclasses.replace(app.config["CONFIDE"], metrics_token=secrets.token_urlsafe(32))
    monkeypatch.setitem(app.config, "CONFIDE", settings)

    def make(*identities: str) -> World:
        return World(app, client, identities or tuple(IDENTITIES))

    return make


def _rules(app: Flask) -> list[Rule]:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint != "static"]


def _methods(rule: Rule) -> list[str]:
    return sorted(m for m in rule.methods or () if m in ("GET", "POST"))


def _build(world: World, rule: Rule, method: str, case_id: str | None = None) -> str:
    adapter = world.app.url_map.bind("localhost")
    return adapter.build(rule.endpoint, world.values(rule, case_id), method=method)


def _refusal(
    route: Route, role: str, path: str, method: str, endpoint: str, token: bool = True
) -> tuple[int, str | None]:
    """What _check_access answers someone whose role the route does not admit."""
    assert route.refused_to is not None, "a route closed to some roles must say where they are sent"
    if route.refused_to == RECEIPT:
        # A reporter's form posted from a page of ours without her session: the receipt page,
        # carrying what was posted until a receipt opens a case (app.intake.resume); nothing
        # is acted on. Without the browser's own form token, nothing is carried.
        kept = method == "POST" and token and signed_out_recovery(endpoint) is not None
        return (400, None) if kept else (303, "/status")
    if role in (ANONYMOUS, REPORTER):
        return 303, f"/staff/login?next={path}"
    return 404, None


def _outcome(response: TestResponse) -> tuple[int, str | None]:
    location = response.headers.get("Location")
    if location is None:
        return response.status_code, None
    parts = urlsplit(location)
    query = parse_qs(parts.query)
    if "next" in query:
        return response.status_code, f"{parts.path}?next={query['next'][0]}"
    return response.status_code, parts.path


STAFF_ROLES = {"responder", "coordinator", "counsel"}


def _denied_count(actor_id: str | None = None, case_id: str | None = None) -> int:
    query = select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "access_denied")
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if case_id is not None:
        query = query.where(AuditEntry.case_id == case_id)
    return db.session.scalar(query) or 0


def test_every_route_is_in_the_table(app: Flask) -> None:
    check_table(app)


def check_table(app: Flask) -> None:
    in_app = {rule.endpoint: " ".join(_methods(rule)) for rule in _rules(app)}
    unlisted = sorted(set(in_app) - set(ROUTES))
    assert not unlisted, (
        f"routes missing from ROUTES in tests/test_access.py: {unlisted}. "
        "Say who may use each one (and where others are sent) before shipping it."
    )
    stale = sorted(set(ROUTES) - set(in_app))
    assert not stale, f"ROUTES lists endpoints the app no longer has: {stale}"
    changed = {e: (ROUTES[e].methods, m) for e, m in in_app.items() if ROUTES[e].methods != m}
    assert not changed, f"methods differ (table, app): {changed}"
    for endpoint, route in ROUTES.items():
        assert route.allowed, f"{endpoint} open to nobody: remove it instead"
        assert (route.allowed == EVERYONE) == (route.refused_to is None), f"{endpoint}: who is refused, and where to?"


# Routes that end the session they are sent in, on the server (every copy of the cookie); the
# world's restore() brings a staff session back, a reporter signs in again with the receipt.
SIGN_OUTS = {"staff.logout", "intake.status_logout", "intake.quick_exit"}


def test_every_route_against_every_identity(make_world: Callable[..., World]) -> None:
    """Each rule × method × identity gets exactly the outcome the table expects."""
    world = make_world()
    check_table(world.app)
    b = world.staff["responder B"]
    problems: list[str] = []
    for rule in sorted(_rules(world.app), key=lambda r: r.rule):
        route = ROUTES[rule.endpoint]
        for method in _methods(rule):
            for identity, role in IDENTITIES.items():
                url = _build(world, rule, method)
                path = urlsplit(url).path
                denied_before = _denied_count()
                b_on_case_before = _denied_count(b.id, world.case.id)
                response = world.send(identity, method, url)
                got, where = _outcome(response), f"{method} {url} as {identity}"
                denied_after = _denied_count()
                if response.status_code >= 500:
                    problems.append(f"{where}: server error {response.status_code}")
                elif route.bearer:
                    if got != (404, None):
                        problems.append(f"{where}: only the bearer token opens it, expected 404, got {got}")
                elif role not in route.allowed:
                    expected = _refusal(route, role, path, method, rule.endpoint)
                    if got != expected:
                        problems.append(f"{where}: expected refusal {expected}, got {got}")
                elif (route.own_case or route.own_circle) and identity == "responder B":
                    # Allowed by role, but the case (or circle) is A's: answered as if it did not exist, and audited.
                    if got != (404, None):
                        problems.append(f"{where}: another responder's case or circle must be 404, got {got}")
                    on_case = _denied_count(b.id, world.case.id) == b_on_case_before + (1 if route.own_case else 0)
                    if not on_case or denied_after != denied_before + 1:
                        problems.append(f"{where}: expected one access_denied audit entry for B")
                else:
                    refusals = {(404, None), (405, None), (303, f"/staff/login?next={path}")}
                    if route.refused_to == RECEIPT:
                        refusals.add((303, "/status"))
                    if got in refusals:
                        problems.append(f"{where}: should be allowed, got refusal {got}")
                    world.restore()
                    if rule.endpoint in SIGN_OUTS and role == "reporter":
                        world.sign_in(identity)
                if response.status_code == 404 and CASE_MARKER in response.get_data(as_text=True):
                    problems.append(f"{where}: a 404 page shows the case")
                ownership_refusal = (
                    (route.own_case or route.own_circle) and identity == "responder B" and role in route.allowed
                )
                # Every refusal of a signed-in staff member is audited; nothing else is.
                staff_refused = (
                    role in STAFF_ROLES
                    and role not in route.allowed
                    and _refusal(route, role, path, method, rule.endpoint) == (404, None)
                )
                if staff_refused and denied_after != denied_before + 1:
                    problems.append(f"{where}: a refused staff member must leave one access_denied entry")
                if not (ownership_refusal or staff_refused) and denied_after != denied_before:
                    problems.append(f"{where}: unexpected access_denied audit entry")
    assert not problems, "\n".join(problems)


def test_made_up_case_ids_are_404_and_audited(make_world: Callable[..., World]) -> None:
    world = make_world("responder A", "coordinator")
    made_up = [str(uuid.uuid4()), "x" * 37, world.case.id[:8]]
    problems: list[str] = []
    for rule in _rules(world.app):
        if rule.endpoint not in CASE_ROUTES:
            continue
        route = ROUTES[rule.endpoint]
        for method in _methods(rule):
            for identity in ("responder A", "coordinator"):
                for case_id in made_up:
                    url = _build(world, rule, method, case_id)
                    actor = world.staff[identity].id
                    before = _denied_count(actor)
                    response = world.send(identity, method, url)
                    where = f"{method} {url} as {identity}"
                    if response.status_code != 404:
                        problems.append(f"{where}: expected 404, got {response.status_code}")
                    if IDENTITIES[identity] in route.allowed and _denied_count(actor) != before + 1:
                        problems.append(f"{where}: the attempt is not audited")
    assert not problems, "\n".join(problems)
    entry = db.session.scalars(
        select(AuditEntry).where(AuditEntry.action == "access_denied").order_by(AuditEntry.id.desc())
    ).first()
    assert entry is not None and entry.case_id is None and entry.detail["exists"] is False


def test_counsel_gets_404_for_every_case_route(make_world: Callable[..., World]) -> None:
    world = make_world("counsel")
    case_rules = [rule for rule in _rules(world.app) if rule.endpoint in CASE_ROUTES or rule.endpoint == "cases.queue"]
    assert len(case_rules) == len(CASE_ROUTES) + 1  # and the queue
    for rule in case_rules:
        for method in _methods(rule):
            url = _build(world, rule, method)
            response = world.send("counsel", method, url)
            assert response.status_code == 404, f"{method} {url} as counsel: {response.status_code}"
            assert CASE_MARKER not in response.get_data(as_text=True)
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert case is not None and case.acknowledged_at is None and not case.important


def _b_tries(world: World, endpoints: list[str]) -> list[str]:
    """Responder B on each of ``endpoints`` for A's case; what went wrong, if anything."""
    b = world.staff["responder B"]
    problems = []
    for rule in _rules(world.app):
        if rule.endpoint not in endpoints:
            continue
        for method in _methods(rule):
            url = _build(world, rule, method)
            before = _denied_count(b.id, world.case.id)
            response = world.send("responder B", method, url)
            if response.status_code != 404 or CASE_MARKER in response.get_data(as_text=True):
                problems.append(f"{method} {url}: answered {response.status_code}, not a plain 404")
            if _denied_count(b.id, world.case.id) != before + 1:
                problems.append(f"{method} {url}: B's attempt is not in the audit log")
    db.session.expire_all()
    case = db.session.get(Case, world.case.id)
    assert case is not None and case.assigned_to_id == world.staff["responder A"].id
    assert case.acknowledged_at is None and not case.important and not case.notes and not case.messages
    return problems


def test_responder_b_gets_404_for_a_case_of_responder_a_and_is_audited(make_world: Callable[..., World]) -> None:
    world = make_world("responder B")
    for_responders = [e for e in CASE_ROUTES if RESPONDER in ROUTES[e].allowed]
    assert len(for_responders) == 6
    problems = _b_tries(world, for_responders)
    assert not problems, "\n".join(problems)


def test_responder_b_on_coordinator_only_routes_of_a_case_is_audited(make_world: Callable[..., World]) -> None:
    world = make_world("responder B")
    coordinator_only = [e for e in CASE_ROUTES if RESPONDER not in ROUTES[e].allowed]
    assert coordinator_only == [
        "cases.assign",
        "cases.claim",
        "referrals.create",
        "retention.hold",
        "retention.release",
    ]
    problems = _b_tries(world, coordinator_only)
    assert not problems, "\n".join(problems)


def test_refusal_comes_before_the_csrf_check(make_world: Callable[..., World]) -> None:
    """A wrong-role POST without a CSRF token is refused as such, not answered 'page expired'."""
    # One of each kind of refusal: to the receipt page, to the sign-in page, and 404.
    world = make_world("anonymous", "reporter", "responder B", "counsel")
    problems: list[str] = []
    for rule in sorted(_rules(world.app), key=lambda r: r.rule):
        route = ROUTES[rule.endpoint]
        if "POST" not in _methods(rule):
            continue
        for identity in world.sessions:
            role = IDENTITIES[identity]
            if role in route.allowed:
                continue
            url = _build(world, rule, "POST")
            expected = _refusal(route, role, urlsplit(url).path, "POST", rule.endpoint, token=False)
            got = _outcome(world.send(identity, "POST", url, token=False))
            if got != expected:
                problems.append(f"POST {url} as {identity} without a token: expected {expected}, got {got}")
    assert not problems, "\n".join(problems)
