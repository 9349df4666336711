"""Referral packet benchmark: sending referrals to counsel one by one, and the bulk export.

Run from the repository root:

    .venv/bin/python bench/export.py            (--quick: 100 referrals instead of 1,000)

It starts everything it needs and removes it again, even on error:

* a fresh PostgreSQL database ``confide_bench_export`` (dropped at the end), migrated with
  `flask db upgrade`,
* a keyring, a config file, a log file and the export file in a temporary folder,
* Redis database 10 (intake enqueues each case's routing job there; flushed before and
  after; the run refuses to start if it holds anything) with its own queue prefix,
* the app in this process, configured as gunicorn would be (same environment). No HTTP, no
  workers: the figures are the services' own.

THE DATA (not timed). A coordinator, a responder and a counsel whose age key pair this
script holds, all made as tests/factories.py makes them. ``--referrals`` reports filed
through the real intake service (app.intake.services.submit_report), every one with consent
to a legal referral; half of them named, with consent to disclose their identity to counsel
and to be emailed and texted. Narratives of 1,200-1,800 characters (median about 1,500),
drawn from sentences as reporters write them: ``--cjk`` (default 34%) Chinese or Korean
(zh-Hans and ko, half each), then a quarter of the rest Spanish (accents, ¿ and ¡) and the
rest English, the languages the bench configuration offers. Each case is then assigned by the
coordinator, acknowledged and put in progress by the responder (so the packet's timeline is a
real one), and a draft referral to the counsel is made with create_referral.

THE PHASES.

* first render: the first packet PDFs of the process, Latin, then Chinese, then Korean,
  each loading the fonts it needs (app.pdf.typeset reads a font once per process); then the
  same documents again, warm. The phases below run warm.
* packets: send_referral for every draft, one after another, one thread, each in a
  session of its own as a request would have: consent check, JSON document, PDF, ZIP,
  age encryption, stored, counsel notified, audited. Packets per second over the whole
  loop; per-packet p50/p95/p99, for all and apart for Latin-script and CJK packets.
  Where the time goes is measured on every packet with wrappers put on the functions of
  app/referrals/packet.py (build_document, render_packet_pdf, _zip, pyrage.encrypt), on
  PostgreSQL statements and commits (SQLAlchemy events, the dialect's do_commit), and
  taken off afterwards; each is counted exclusive of what it calls. What the wrappers cost
  is measured and printed (microseconds per packet).
* bulk export: app.referrals.export.plan_export + write_export for the counsel, all the
  referrals in one encrypted file, timed; the file is then decrypted with the counsel's
  identity and checked (every referral present with its three files).
* raw encryption, in the same run: pyrage.encrypt to the same recipient of exactly the
  bytes the pipeline encrypted (the ZIP of each packet, and the export's whole ZIP),
  captured on the way. Ratio: pipeline time / raw encryption time of the same bytes.

Target: at least 50 packets per second. The last line printed is one JSON object with every
figure. Exit status: 0 target met, 1 errors during the run, 2 target missed.

PostgreSQL: CONFIDE_BENCH_PG_ADMIN_URL (default postgresql://postgres@127.0.0.1:5432/test)
names a database to connect to for CREATE/DROP DATABASE. Redis: CONFIDE_BENCH_EXPORT_REDIS_URL
(default redis://127.0.0.1:6379/10); it is flushed, so the run stops at once if it is not empty.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Python puts this script's folder first on sys.path, where bench/queue.py would shadow the
# standard library's queue module; take the folder off before anything else is imported.
_HERE = Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != _HERE]

import argparse
import io
import json
import os
import random
import resource
import secrets
import signal
import statistics
import time
import zipfile
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pyrage  # noqa: E402
from pyrage import x25519  # noqa: E402
from redis import Redis  # noqa: E402

from bench import harness  # noqa: E402

BENCH_DATABASE = "confide_bench_export"
REDIS_URL = os.environ.get("CONFIDE_BENCH_EXPORT_REDIS_URL", "redis://127.0.0.1:6379/10")
QUEUE_PREFIX = "confide-bench-export"

TARGET_PACKETS_PER_S = 50.0

PASSWORD = "quiet lantern orchard 47"
COUNSEL_EMAIL = "counsel-bench@example.org"
# The raw encryption of the export's whole ZIP is repeated, and the median kept.
EXPORT_ENCRYPT_ROUNDS = 3

CONFIG_TOML = """\
# Written by bench/export.py for one run; removed afterwards.
# A program serving Chinese- and Korean-speaking workers offers their languages; reports
# record them, and the packet PDF picks its CJK face by them.
languages = ["en", "es", "zh-Hans", "ko"]
"""

# Raw pyrage.encrypt, kept before any wrapper is put on it: the baseline calls this.
RAW_ENCRYPT = pyrage.encrypt


# --------------------------------------------------------------------------- the data

SPANISH = [
    "Trabajo en un spa en Hartford desde hace dos años y el dueño me guarda el pasaporte.",
    "Un cliente me tocó sin mi permiso durante la sesión y no se detuvo cuando se lo pedí.",
    "Mi jefa me dijo que no dijera nada y la semana siguiente me quitó turnos.",
    "¿Qué puedo hacer si no tengo papeles y me amenazan con llamar a inmigración?",
    "Anoté la fecha, la hora y lo que dijo en cuanto llegué a casa esa noche.",
    "Otra compañera me contó que el mismo señor le hizo algo parecido a ella.",
    "Tengo miedo de perder el trabajo porque mando dinero a mi familia en Guatemala.",
    "El dueño dice que todavía le debo el pasaje de avión y los gastos del alojamiento.",
    "Después me mandó mensajes al teléfono a la una de la mañana, ¡y no paraba!",
    "La recepcionista lo vio salir y me preguntó después si estaba bien.",
    "No sé todavía si quiero poner una queja, pero quiero que quede constancia.",
    "Él reservó otra cita con otro nombre y nadie en la recepción me avisó.",
    "Vivimos seis compañeras en un cuarto detrás del local y no podemos salir solas.",
    "Trabajamos doce horas al día y sólo descansamos medio día por semana.",
]
CHINESE = [
    "我在Hartford的一家按摩店工作了两年，老板一直拿着我的护照。",
    "一位客人在按摩的时候摸了我的身体，我让他停下，他不听。",
    "经理叫我不要告诉任何人，下个星期就减少了我的班次。",
    "他后来用另一个名字又预约了一次，前台没有提醒我。",
    "那天晚上回到家，我马上把日期、时间和他说的话都写了下来。",
    "另一位同事告诉我，同一个人也对她做过类似的事情。",
    "老板说我还欠他机票钱和住宿费，要从工资里扣。",
    "我很害怕失去这份工作，因为我每个月都要给家里寄钱。",
    "他给我的手机发了很多信息，半夜一点还在发。",
    "店里当时没有别人，因为那是当天最后一个预约。",
    "我还不确定要不要正式投诉，但是我希望有记录。",
    "老板说如果我报警，他就打电话给移民局。",
    "我们六个人住在店后面的一个小房间里，不能自己出去。",
    "每天工作十二个小时，一个星期只休息半天。",
    "我的英语不太好，所以不知道可以向谁求助。",
    "请问律师可以帮我拿回护照吗？",
]
KOREAN = [
    "저는 Hartford에 있는 마사지 가게에서 이 년 동안 일했습니다.",
    "손님이 마사지 중에 제 몸을 만졌고, 멈추라고 했는데도 멈추지 않았습니다.",
    "매니저는 아무에게도 말하지 말라고 했고, 다음 주에 제 근무 시간을 줄였습니다.",
    "그 사람은 다른 이름으로 다시 예약했는데, 프런트에서 저에게 알려 주지 않았습니다.",
    "그날 밤 집에 오자마자 날짜와 시간, 그가 한 말을 모두 적어 두었습니다.",
    "다른 동료도 같은 사람이 비슷한 일을 했다고 말해 주었습니다.",
    "사장님이 제 여권을 가지고 있고, 아직 비행기 값을 갚아야 한다고 합니다.",
    "가족에게 매달 돈을 보내야 해서 일을 잃을까 봐 무섭습니다.",
    "그 후에 밤늦게까지 제 휴대폰으로 계속 메시지를 보냈습니다.",
    "그때 가게에는 아무도 없었습니다. 그날 마지막 예약이었기 때문입니다.",
    "아직 정식으로 신고할지 모르겠지만 기록은 남기고 싶습니다.",
    "경찰에 신고하면 이민국에 전화하겠다고 했습니다.",
    "우리는 가게 뒤 작은 방에서 여섯 명이 함께 살고, 혼자 밖에 나갈 수 없습니다.",
    "하루에 열두 시간 일하고 일주일에 반나절만 쉽니다.",
    "변호사가 제 여권을 돌려받는 데 도움을 줄 수 있을까요?",
]
# Per language: its sentences, what joins them, and the names of named reporters.
LANGUAGES: dict[str, tuple[list[str], str, list[str]]] = {
    "en": (harness.SENTENCES, " ", ["Jennifer Walsh", "Amanda Reyes", "Keisha Brown", "Olena Kovalenko"]),
    "es": (SPANISH, " ", ["Marisol Ibáñez", "José Peña", "María Fernández", "Lucía Gómez"]),
    "zh-Hans": (CHINESE, "", ["王秀英", "李娜", "张敏", "刘芳"]),
    "ko": (KOREAN, " ", ["김지은", "박서연", "이수진", "최민지"]),
}
CJK = ("zh-Hans", "ko")
CATEGORIES = [
    "sexual_harassment",
    "sexual_harassment",
    "sexual_assault",
    "practitioner_violation",
    "exploitation",
    "exploitation",
    "threats",
    "physical_assault",
    "rape",
    "other",
]


def script_of(language: str) -> str:
    """The class a packet is reported in: "cjk" or "latin"."""
    return "cjk" if language in CJK else "latin"


def languages_for(count: int, rng: random.Random, cjk_share: float) -> list[str]:
    """`cjk_share` CJK (at least one Chinese and one Korean, half each), then Spanish for a
    quarter of the rest, the rest English, shuffled."""
    cjk = max(2, round(count * cjk_share))
    spanish = round((count - cjk) * 0.25)
    tags = ["zh-Hans" if i % 2 == 0 else "ko" for i in range(cjk)] + ["es"] * spanish
    tags += ["en"] * (count - len(tags))
    rng.shuffle(tags)
    return tags


def narrative(rng: random.Random, language: str) -> str:
    """1,200-1,800 characters of the language's sentences, cut at a sentence's end."""
    sentences, joiner, _ = LANGUAGES[language]
    chars = rng.randint(1_200, 1_800)
    out: list[str] = []
    while len(joiner.join(out)) < chars:
        out.append(rng.choice(sentences))
    return joiner.join(out)


@dataclass
class Seeded:
    """What the setup made, and how long it took."""

    coordinator_id: str = ""
    counsel_email: str = ""
    recipient: str = ""
    identity: x25519.Identity | None = None
    # Draft referral id -> the language of its case, in the order they were made.
    referrals: dict[str, str] = field(default_factory=dict)
    named: int = 0
    chars: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    cjk_distinct: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


def make_account(role: str, email: str, name: str, pseudonym: str | None) -> Any:
    """An enrolled, active account, as tests/factories.py make_staff builds them."""
    from app.extensions import db
    from app.keystore import current_keyring
    from app.models import utcnow
    from app.staff import credentials
    from app.staff.models import StaffUser

    user = StaffUser(
        email=email,
        name=name,
        role=role,
        pseudonym=pseudonym,
        languages=["en", "es"],
        on_duty=True,
        caseload_cap=100_000,
        password_hash=credentials.hash_password(PASSWORD),
        enrolled_at=utcnow(),
    )
    db.session.add(user)
    db.session.flush()
    user.totp_sealed = credentials.seal_totp(current_keyring(), user.id, credentials.new_totp_secret())
    db.session.commit()
    return user


def seed(count: int, rng: random.Random, cjk_share: float) -> Seeded:
    """Staff, ``count`` cases through intake with their handling, and a draft referral each."""
    from app.cases.content import ContactDetails, ReportContent
    from app.cases.models import Case
    from app.casework import services as cases
    from app.extensions import db
    from app.intake import services as intake
    from app.referrals import services as referrals
    from app.referrals.directory import save_counsel_profile
    from app.staff.models import StaffUser

    seeded = Seeded()
    started = time.perf_counter()
    coordinator = make_account("coordinator", "coordinator-bench@example.org", "Casey Coordinator", "Heron")
    responder = make_account("responder", "responder-bench@example.org", "Robin Responder", "Alder")
    counsel = make_account("counsel", COUNSEL_EMAIL, "Dana Counsel", None)
    identity = x25519.Identity.generate()
    save_counsel_profile(
        counsel,
        by=counsel,
        firm="Harbor Legal Aid",
        practice_areas=["employment", "sexual_violence"],
        languages="en, es, zh, ko",
        age_recipient=str(identity.to_public()),
    )
    seeded.coordinator_id, seeded.counsel_email, seeded.identity = coordinator.id, COUNSEL_EMAIL, identity
    seeded.recipient = str(identity.to_public())
    coordinator_id, responder_id, counsel_id = coordinator.id, responder.id, counsel.id
    db.session.remove()
    seeded.seconds["staff"] = round(time.perf_counter() - started, 2)

    spent = defaultdict(float)
    for n, language in enumerate(languages_for(count, rng, cjk_share)):
        story = narrative(rng, language)
        seeded.chars[script_of(language)].append(len(story))
        if language in CJK:
            seeded.cjk_distinct.append(len({c for c in story if ord(c) > 0x2E7F}))
        named = n % 2 == 1  # the languages are shuffled: half of each, near enough
        consent = {"peer_support": True, "legal_referral": True}
        contact = None
        if named:
            seeded.named += 1
            consent.update(identity_to_counsel=True, contact_email=True, contact_text=True)
            contact = ContactDetails(
                name=rng.choice(LANGUAGES[language][2]),
                email=f"reporter{n}@example.org",
                phone="860-555-0147",
                safe_times=rng.choice(["Weekday evenings", "After 9 pm", "Sundays"]),
                voicemail_ok="no",
                code_word="bluebird",
            )
        t0 = time.perf_counter()
        filed = intake.submit_report(
            intake.Submission(
                category=rng.choice(CATEGORIES),
                language=language,
                content=ReportContent(
                    narrative=story,
                    perpetrator=rng.choice(["client", "employer", "coworker", "other", ""]),
                    setting=rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
                    when=rng.choice(["72h", "week", "month", "year", "older"]),
                    danger_now=rng.choice(["no", "no", "no", "unsure"]),
                    injured=rng.choice(["no", "no", "unsure", "yes"]),
                    ongoing=rng.choice(["yes", "no", "unsure"]),
                    wants=("legal",) + tuple(rng.sample(["peer", "licensing"], rng.randint(0, 2))),
                ),
                submission_token=secrets.token_urlsafe(16),
                county=rng.choice(["hartford", "new_haven", "fairfield", "outside", ""]),
                contact=contact,
                consent=consent,
            )
        )
        t1 = time.perf_counter()
        coordinator = db.session.get(StaffUser, coordinator_id)
        responder = db.session.get(StaffUser, responder_id)
        case = db.session.get(Case, filed.case_id)
        assert coordinator is not None and responder is not None and case is not None
        cases.assign(coordinator, case, responder_id)
        cases.acknowledge(responder, case)
        cases.change_status(responder, case, "in_progress")
        t2 = time.perf_counter()
        referral = referrals.create_referral(coordinator, case, counsel_id)
        seeded.referrals[referral.id] = language
        db.session.remove()
        t3 = time.perf_counter()
        spent["intake"] += t1 - t0
        spent["handling"] += t2 - t1
        spent["drafts"] += t3 - t2
        if (n + 1) % 250 == 0:
            print(f"  {n + 1:,} cases filed, handled and drafted", flush=True)
    seeded.seconds.update({k: round(v, 2) for k, v in spent.items()})
    seeded.seconds["total"] = round(time.perf_counter() - started, 2)
    return seeded


# ----------------------------------------------------------------------- measurement


class Stages:
    """Exclusive time per stage: a wrapper, a statement or a commit counts its own time and
    takes it off the stage that called it. ``payloads`` keeps what was encrypted, and the
    ciphertext's size, while ``capture`` is on."""

    def __init__(self) -> None:
        self.spent: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)
        self.stack: list[float] = []
        self.payloads: list[tuple[bytes, int]] = []
        self.capture = False

    def _enter(self) -> float:
        self.stack.append(0.0)
        return time.perf_counter()

    def _leave(self, stage: str, start: float) -> None:
        took = time.perf_counter() - start
        inner = self.stack.pop()
        self.spent[stage] += took - inner
        self.calls[stage] += 1
        if self.stack:
            self.stack[-1] += took

    def wrap(self, function: Callable[..., Any], stage: str) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = self._enter()
            try:
                return function(*args, **kwargs)
            finally:
                self._leave(stage, start)

        return wrapper

    def wrap_encrypt(self, function: Callable[..., bytes]) -> Callable[..., bytes]:
        def wrapper(plaintext: bytes, recipients: Any) -> bytes:
            start = self._enter()
            try:
                encrypted = function(plaintext, recipients)
            finally:
                self._leave("encrypt", start)
            if self.capture:
                self.payloads.append((plaintext, len(encrypted)))
            return encrypted

        return wrapper

    def snapshot(self) -> dict[str, float]:
        return dict(self.spent)

    def before_statement(self, conn: Any, *_: Any) -> None:
        conn.info["bench_started"] = self._enter()

    def after_statement(self, conn: Any, *_: Any) -> None:
        self._leave("db", conn.info.pop("bench_started"))


# Exclusive stages, in the order they are printed; "rest" is what none of them covers.
STAGES = {
    "build_document": "build_document (decrypt, document)",
    "render": "render_packet_pdf",
    "zip": "_zip (deflate; packet.json, README)",
    "encrypt": "pyrage.encrypt",
    "db": "PostgreSQL statements",
    "commit": "PostgreSQL commits",
    "rest": "rest (ORM, consent, audit hash, notify, log)",
}


@contextmanager
def instrumented(stages: Stages) -> Iterator[Stages]:
    """The wrappers on app/referrals/packet.py, pyrage.encrypt, statements and commits;
    all taken off again at the end."""
    from sqlalchemy import event

    from app.extensions import db
    from app.referrals import export, packet

    engine = db.engine
    dialect = engine.dialect
    render = stages.wrap(packet.render_packet_pdf, "render")
    patches = [
        (packet, "build_document", stages.wrap(packet.build_document, "build_document")),
        (packet, "render_packet_pdf", render),
        (export, "render_packet_pdf", render),  # the export renders for itself (in other processes, with jobs > 1)
        (packet, "_zip", stages.wrap(packet._zip, "zip")),
        (pyrage, "encrypt", stages.wrap_encrypt(pyrage.encrypt)),
    ]
    originals = [(owner, name, getattr(owner, name)) for owner, name, _ in patches]
    for owner, name, wrapper in patches:
        setattr(owner, name, wrapper)
    # An instance attribute over the class's method: every commit, the audit log's too.
    dialect.do_commit = stages.wrap(dialect.do_commit, "commit")  # type: ignore[method-assign]
    event.listen(engine, "before_cursor_execute", stages.before_statement)
    event.listen(engine, "after_cursor_execute", stages.after_statement)
    try:
        yield stages
    finally:
        event.remove(engine, "before_cursor_execute", stages.before_statement)
        event.remove(engine, "after_cursor_execute", stages.after_statement)
        del dialect.do_commit
        for owner, name, function in originals:
            setattr(owner, name, function)


def wrapper_cost_us() -> tuple[float, float]:
    """Microseconds one wrapped call and one statement's pair of events add (best of 5)."""
    stages = Stages()
    wrapped = stages.wrap(lambda: None, "x")

    class Conn:
        def __init__(self) -> None:
            self.info: dict[str, float] = {}

    conn, rounds = Conn(), 20_000
    best_call = best_statement = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            wrapped()
        best_call = min(best_call, time.perf_counter() - start)
        start = time.perf_counter()
        for _ in range(rounds):
            stages.before_statement(conn)
            stages.after_statement(conn)
        best_statement = min(best_statement, time.perf_counter() - start)
    return 1e6 * best_call / rounds, 1e6 * best_statement / rounds


def cpu_now() -> dict[str, float]:
    """CPU seconds so far: PostgreSQL, this process, the machine (see harness.cpu_snapshot)."""
    snapshot = harness.cpu_snapshot([])
    del snapshot["gunicorn"]
    return snapshot


def cpu_since(before: dict[str, float]) -> dict[str, float]:
    used = harness.cpu_used(before, cpu_now())
    return {k: round(v, 2) for k, v in used.items()}


def document_for(referral_id: str) -> dict[str, Any]:
    """The packet document of a draft, exactly as send_referral would build it."""
    from app.cases.consent import current_consent
    from app.cases.models import Case
    from app.extensions import db
    from app.referrals import packet
    from app.referrals.models import Referral

    referral = db.session.get(Referral, referral_id)
    assert referral is not None
    case = db.session.get(Case, referral.case_id)
    assert case is not None
    consent = current_consent(case.id)
    identity = consent["identity_to_counsel"] and case.is_named
    return packet.build_document(referral, case, consent=consent, identity=identity)


def first_renders(seeded: Seeded) -> dict[str, float]:
    """The first packet PDFs of this process (each loading its fonts), then the same warm."""
    from app.extensions import db
    from app.referrals.pdf import preload_fonts, render_packet_pdf

    first = {}
    for language in ("en", "zh-Hans", "ko"):
        first[language] = next(r for r, tag in seeded.referrals.items() if tag == language)
    documents = {language: document_for(referral_id) for language, referral_id in first.items()}
    out: dict[str, float] = {}
    for language, document in documents.items():
        start = time.perf_counter()
        render_packet_pdf(document)
        out[f"first_{language}_ms"] = round(1000 * (time.perf_counter() - start), 1)
    start = time.perf_counter()
    preload_fonts((1, 2))  # everything is loaded already: this must take no time
    out["preload_after_ms"] = round(1000 * (time.perf_counter() - start), 2)
    for language, document in documents.items():
        times = []
        for _ in range(5):
            start = time.perf_counter()
            render_packet_pdf(document)
            times.append(time.perf_counter() - start)
        out[f"warm_{language}_ms"] = round(1000 * statistics.median(times), 1)
    db.session.remove()
    return out


@dataclass
class PacketRun:
    """The packets phase: per packet its language, time and stage times; the loop's wall time."""

    times: list[tuple[str, float]] = field(default_factory=list)
    stage_times: list[tuple[str, dict[str, float]]] = field(default_factory=list)
    wall: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    statements: int = 0
    commits: int = 0
    wrapped_calls: int = 0
    ciphertext_bytes: int = 0
    # What each packet's _zip gave pyrage.encrypt, and the ciphertext's size.
    payloads: list[tuple[bytes, int]] = field(default_factory=list)
    errors: int = 0
    samples: list[str] = field(default_factory=list)


def send_packets(seeded: Seeded, stages: Stages) -> PacketRun:
    """send_referral for every draft, each in a session of its own."""
    from sqlalchemy.exc import SQLAlchemyError

    from app.extensions import db
    from app.referrals import services as referrals
    from app.referrals.models import Referral
    from app.referrals.packet import PacketError
    from app.staff.models import StaffUser

    run = PacketRun()
    stages.capture = True
    calls_before = dict(stages.calls)
    before_cpu = cpu_now()
    started = time.perf_counter()
    for n, (referral_id, language) in enumerate(seeded.referrals.items()):
        coordinator = db.session.get(StaffUser, seeded.coordinator_id)
        referral = db.session.get(Referral, referral_id)
        assert coordinator is not None and referral is not None
        spent_before = stages.snapshot()
        start = time.perf_counter()
        try:
            referrals.send_referral(coordinator, referral)
        except (referrals.ReferralError, PacketError, SQLAlchemyError) as error:  # counted; the run goes on
            run.errors += 1
            if len(run.samples) < 5:
                run.samples.append(f"{referral_id}: {error.__class__.__name__}: {error}")
            stages.stack.clear()  # a statement that failed never left its stage
            db.session.remove()
            continue
        took = time.perf_counter() - start
        spent = {k: v - spent_before.get(k, 0.0) for k, v in stages.spent.items()}
        spent["rest"] = took - sum(spent.values())
        run.times.append((language, took))
        run.stage_times.append((language, spent))
        db.session.remove()
        if (n + 1) % 250 == 0:
            print(f"  {n + 1:,} packets sent", flush=True)
    run.wall = time.perf_counter() - started
    run.cpu = cpu_since(before_cpu)
    stages.capture = False
    calls = {k: v - calls_before.get(k, 0) for k, v in stages.calls.items()}
    run.statements, run.commits = calls.get("db", 0), calls.get("commit", 0)
    run.wrapped_calls = sum(v for k, v in calls.items() if k != "db")
    run.payloads, stages.payloads = stages.payloads, []
    run.ciphertext_bytes = sum(size for _, size in run.payloads)
    return run


@dataclass
class ExportRun:
    referrals: int = 0
    seconds: float = 0.0
    file_bytes: int = 0
    plaintext: bytes = b""
    stages_s: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    maxrss_mb: tuple[float, float] = (0.0, 0.0)
    decrypt_s: float = 0.0
    checked: str = ""
    errors: int = 0
    samples: list[str] = field(default_factory=list)


def bulk_export(seeded: Seeded, stages: Stages, workdir: Path, jobs: int = 1) -> ExportRun:
    """plan_export + write_export for the counsel, PDFs rendered in ``jobs`` processes, timed;
    then opened and checked. With jobs > 1 the PDFs' time is spent in other processes."""
    from app.extensions import db
    from app.referrals.export import plan_export, write_export

    run = ExportRun()
    out = workdir / "harbor.zip.age"
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages.capture = True
    spent_before = stages.snapshot()
    before_cpu = cpu_now()
    start = time.perf_counter()
    plan = plan_export(seeded.counsel_email)
    run.referrals = write_export(plan, out, jobs=jobs)
    run.seconds = time.perf_counter() - start
    run.cpu = cpu_since(before_cpu)
    stages.capture = False
    db.session.remove()
    run.maxrss_mb = (rss_before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    spent = {k: v - spent_before.get(k, 0.0) for k, v in stages.spent.items()}
    spent["rest"] = run.seconds - sum(spent.values())
    run.stages_s = {k: round(spent.get(k, 0.0), 3) for k in STAGES}
    run.plaintext = stages.payloads[-1][0] if stages.payloads else b""
    stages.payloads.clear()
    run.file_bytes = out.stat().st_size

    # What counsel would do: decrypt with their identity, and find every referral whole.
    assert seeded.identity is not None
    start = time.perf_counter()
    opened = pyrage.decrypt(out.read_bytes(), [seeded.identity])
    run.decrypt_s = time.perf_counter() - start
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        index = json.loads(archive.read("index.json"))
        names = set(archive.namelist())
    listed = {entry["id"] for entry in index["referrals"]}
    missing = [r for r in seeded.referrals if r not in listed]
    incomplete = [
        r for r in listed if any(f"referral-{r}/{f}" not in names for f in ("README.txt", "packet.json", "packet.pdf"))
    ]
    if run.plaintext and opened != run.plaintext:  # captured only when instrumented
        run.errors += 1
        run.samples.append("the decrypted export is not the ZIP that was encrypted")
    if missing or incomplete or run.referrals != len(seeded.referrals):
        run.errors += 1
        run.samples.append(
            f"export holds {run.referrals} referrals: {len(missing)} missing, {len(incomplete)} incomplete"
        )
    run.checked = f"{len(listed):,} referrals in index.json, each with README.txt, packet.json and packet.pdf"
    out.unlink()
    return run


def raw_encryption(recipient: str, payloads: list[tuple[bytes, int]], export_plaintext: bytes) -> dict[str, Any]:
    """pyrage.encrypt alone, of the packets' ZIPs one by one and of the export's ZIP."""
    to = [x25519.Recipient.from_str(recipient)]
    times = []
    for plaintext, _ in payloads:
        start = time.perf_counter()
        RAW_ENCRYPT(plaintext, to)
        times.append(time.perf_counter() - start)
    total_bytes = sum(len(p) for p, _ in payloads)
    export_times = []
    for _ in range(EXPORT_ENCRYPT_ROUNDS if export_plaintext else 0):
        start = time.perf_counter()
        RAW_ENCRYPT(export_plaintext, to)
        export_times.append(time.perf_counter() - start)
    export_s = statistics.median(export_times) if export_times else 0.0
    ordered = sorted(times)
    return {
        "packets": {
            "count": len(times),
            "seconds": round(sum(times), 4),
            "mb": round(total_bytes / 1e6, 2),
            "mb_per_s": round(total_bytes / 1e6 / sum(times), 1) if times else 0.0,
            "p50_ms": round(harness.percentile(ordered, 50), 3),
            "p95_ms": round(harness.percentile(ordered, 95), 3),
        },
        "export": {
            "seconds": round(export_s, 4),
            "mb": round(len(export_plaintext) / 1e6, 2),
            "mb_per_s": round(len(export_plaintext) / 1e6 / export_s, 1) if export_s else 0.0,
        },
    }


# ---------------------------------------------------------------------------- results


def latency(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    return {
        "count": len(ordered),
        "mean_ms": round(1000 * statistics.fmean(ordered), 1) if ordered else 0.0,
        "p50_ms": round(harness.percentile(ordered, 50), 1),
        "p95_ms": round(harness.percentile(ordered, 95), 1),
        "p99_ms": round(harness.percentile(ordered, 99), 1),
    }


def breakdown(run: PacketRun, script: str | None) -> dict[str, float]:
    """Mean milliseconds per packet in each stage, for one class of packets or all."""
    chosen = [spent for language, spent in run.stage_times if script is None or script_of(language) == script]
    if not chosen:
        return {}
    return {k: round(1000 * statistics.fmean(s.get(k, 0.0) for s in chosen), 2) for k in STAGES}


MAIN_COLUMNS = (
    harness.Column("measure", 40),
    harness.Column("count", 7),
    harness.Column("seconds", 9, ".2f"),
    harness.Column("per s", 8, ".1f"),
    harness.Column("p50 ms", 8, ".1f"),
    harness.Column("p95 ms", 8, ".1f"),
    harness.Column("MB", 8, ".1f"),
    harness.Column("MB/s", 8, ".1f"),
)
STAGE_COLUMNS = (
    harness.Column("where a packet's time goes (mean ms)", 46),
    harness.Column("Latin", 8, ".2f"),
    harness.Column("CJK", 8, ".2f"),
    harness.Column("all", 8, ".2f"),
    harness.Column("share", 7, ".0%"),
    harness.Column("export s", 10, ".2f"),
)


def report(
    args: argparse.Namespace,
    seeded: Seeded,
    first: dict[str, float],
    packets: PacketRun,
    export: ExportRun,
    parallel: ExportRun,
    jobs: int,
    raw: dict[str, Any],
    costs: tuple[float, float],
    app_errors: list[str],
) -> int:
    """Print the tables and the verdict, then the JSON line; returns the exit status."""
    by_script: dict[str, list[float]] = defaultdict(list)
    for language, took in packets.times:
        by_script[script_of(language)].append(took)
    all_times = [t for _, t in packets.times]
    sent = len(all_times)
    per_s = sent / packets.wall if packets.wall else 0.0
    overall, latin, cjk = latency(all_times), latency(by_script["latin"]), latency(by_script["cjk"])
    pipeline_s = sum(all_times)
    export_per_s = export.referrals / export.seconds if export.seconds else 0.0
    parallel_per_s = parallel.referrals / parallel.seconds if parallel.seconds else 0.0
    raw_p, raw_e = raw["packets"], raw["export"]

    print()
    rows: list[tuple[object, ...]] = [
        (
            "packets: send_referral, all",
            sent,
            packets.wall,
            per_s,
            overall["p50_ms"],
            overall["p95_ms"],
            packets.ciphertext_bytes / 1e6,
            None,
        ),
        (
            "  Latin script (en, es)",
            latin["count"],
            sum(by_script["latin"]),
            1000 / latin["mean_ms"] if latin["mean_ms"] else None,
            latin["p50_ms"],
            latin["p95_ms"],
        ),
        (
            "  CJK (zh-Hans, ko)",
            cjk["count"],
            sum(by_script["cjk"]),
            1000 / cjk["mean_ms"] if cjk["mean_ms"] else None,
            cjk["p50_ms"],
            cjk["p95_ms"],
        ),
        (
            "bulk export: plan_export + write_export",
            export.referrals,
            export.seconds,
            export_per_s,
            None,
            None,
            export.file_bytes / 1e6,
            export.file_bytes / 1e6 / export.seconds if export.seconds else None,
        ),
        (
            f"bulk export, PDFs in {jobs} processes",
            parallel.referrals,
            parallel.seconds,
            parallel_per_s,
            None,
            None,
            parallel.file_bytes / 1e6,
            parallel.file_bytes / 1e6 / parallel.seconds if parallel.seconds else None,
        ),
        (
            "raw pyrage.encrypt, the packets' ZIPs",
            raw_p["count"],
            raw_p["seconds"],
            raw_p["count"] / raw_p["seconds"] if raw_p["seconds"] else None,
            raw_p["p50_ms"],
            raw_p["p95_ms"],
            raw_p["mb"],
            raw_p["mb_per_s"],
        ),
        ("raw pyrage.encrypt, the export's ZIP", 1, raw_e["seconds"], None, None, None, raw_e["mb"], raw_e["mb_per_s"]),
    ]
    harness.print_table(MAIN_COLUMNS, rows)
    ratio_packets = pipeline_s / raw_p["seconds"] if raw_p["seconds"] else 0.0
    ratio_export = export.seconds / raw_e["seconds"] if raw_e["seconds"] else 0.0
    print(
        "(packets: seconds is the whole loop, per s packets in it; the Latin and CJK lines sum their own\n"
        " packets' times, and their per s is 1 / mean. MB: ciphertext stored, export file, plaintext encrypted.)"
    )
    print(f"pipeline / raw encryption of the same bytes: packets {ratio_packets:,.0f}x, export {ratio_export:,.0f}x")
    cjk_share = sum(by_script["cjk"]) / pipeline_s if pipeline_s else 0.0
    print(f"CJK packets: {cjk['count'] / max(sent, 1):.0%} of the packets, {cjk_share:.0%} of the time sending them")

    print()
    parts = {script: breakdown(packets, script) for script in ("latin", "cjk")}
    overall_parts = breakdown(packets, None)
    total_ms = sum(overall_parts.values())
    stage_rows: list[tuple[object, ...]] = []
    for key, label in STAGES.items():
        stage_rows.append(
            (
                label,
                parts["latin"].get(key),
                parts["cjk"].get(key),
                overall_parts.get(key),
                overall_parts.get(key, 0.0) / total_ms if total_ms else None,
                export.stages_s.get(key),
            )
        )
    stage_rows.append(
        (
            "whole send_referral / whole export",
            sum(parts["latin"].values()),
            sum(parts["cjk"].values()),
            total_ms,
            1.0,
            export.seconds,
        )
    )
    harness.print_table(STAGE_COLUMNS, stage_rows)
    call_us, statement_us = costs
    statements_per_packet = packets.statements / sent if sent else 0.0
    calls_per_packet = packets.wrapped_calls / sent if sent else 0.0
    overhead_us = calls_per_packet * call_us + statements_per_packet * statement_us
    print(
        f"(each stage exclusive of the others; {statements_per_packet:.1f} statements and "
        f"{packets.commits / max(sent, 1):.1f} commits per packet; the wrappers add "
        f"at most {overhead_us:.0f} us per packet, {overhead_us / 10 / overall['p50_ms']:.2f}% of p50)"
    )

    print(
        f"\nfirst renders in this process (fonts read once): Latin {first['first_en_ms']:.0f} ms, then Chinese "
        f"{first['first_zh-Hans_ms']:.0f} ms, then Korean {first['first_ko_ms']:.0f} ms; warm: Latin "
        f"{first['warm_en_ms']:.1f} ms, Chinese {first['warm_zh-Hans_ms']:.1f} ms, Korean {first['warm_ko_ms']:.1f} ms"
    )
    print(
        f"export: decrypted by counsel in {export.decrypt_s:.2f} s and checked: {export.checked}; "
        f"peak RSS {export.maxrss_mb[0]:.0f} MB before, {export.maxrss_mb[1]:.0f} MB after"
    )
    for name, cpu, wall, count in (
        ("packets", packets.cpu, packets.wall, sent),
        ("export", export.cpu, export.seconds, export.referrals),
    ):
        print(
            f"CPU seconds during {name} ({wall:.1f} s wall): this process {cpu['bench']:.1f} "
            f"({1000 * cpu['bench'] / max(count, 1):.1f} ms per packet), PostgreSQL {cpu['postgres']:.1f}, "
            f"other processes {cpu['other']:.1f}"
        )
    noisy = [
        name
        for name, cpu, wall in (("packets", packets.cpu, packets.wall), ("export", export.cpu, export.seconds))
        if wall and cpu["other"] > 0.25 * cpu["bench"]
    ]
    if noisy:
        print(
            f"WARNING: other processes used much CPU during {', '.join(noisy)} ({os.cpu_count()} CPUs): "
            f"the figures are lower than on a quiet machine"
        )

    # Packets for 1,000 referrals at once are made by the bulk export, which renders in one
    # process per CPU; send_referral makes one packet per coordinator's click.
    met = parallel_per_s >= TARGET_PACKETS_PER_S
    print(
        f"\npackets per second for {parallel.referrals:,} referrals, bulk export with {jobs} rendering processes = "
        f"{parallel_per_s:.1f} (target >= {TARGET_PACKETS_PER_S:g}): {'met' if met else 'MISSED'}"
    )
    print(
        f"in one process: bulk export {export_per_s:.1f}/s; send_referral one at a time {per_s:.1f}/s "
        f"(Latin-script only {latin['count'] / sum(by_script['latin']):.1f}/s; p95 {overall['p95_ms']:.0f} ms a click)"
    )
    errors = packets.errors + export.errors + parallel.errors
    figures: dict[str, Any] = {
        "bench": "export",
        "referrals": args.referrals,
        "cpus": os.cpu_count(),
        "seed": {
            "seconds": seeded.seconds,
            "named": seeded.named,
            "languages": {tag: sum(1 for t in seeded.referrals.values() if t == tag) for tag in LANGUAGES},
            "narrative_median_chars": {k: int(statistics.median(v)) for k, v in seeded.chars.items()},
            "cjk_distinct_chars_median": int(statistics.median(seeded.cjk_distinct)) if seeded.cjk_distinct else 0,
        },
        "first_render_ms": first,
        "packets": {
            **overall,
            "wall_s": round(packets.wall, 2),
            "per_s": round(per_s, 1),
            "latin": latin,
            "cjk": cjk,
            "ciphertext_mb": round(packets.ciphertext_bytes / 1e6, 2),
            "cjk_share_of_time": round(cjk_share, 3),
            "breakdown_ms": {"latin": parts["latin"], "cjk": parts["cjk"], "all": overall_parts},
            "statements_per_packet": round(statements_per_packet, 1),
            "commits_per_packet": round(packets.commits / max(sent, 1), 1),
            "instrumentation_us_per_packet": round(overhead_us, 1),
            "cpu_s": packets.cpu,
        },
        "export": {
            "referrals": export.referrals,
            "seconds": round(export.seconds, 2),
            "per_s": round(export_per_s, 1),
            "file_mb": round(export.file_bytes / 1e6, 2),
            "breakdown_s": export.stages_s,
            "decrypt_s": round(export.decrypt_s, 3),
            "maxrss_mb": [round(v) for v in export.maxrss_mb],
            "cpu_s": export.cpu,
        },
        "export_parallel": {
            "jobs": jobs,
            "referrals": parallel.referrals,
            "seconds": round(parallel.seconds, 2),
            "per_s": round(parallel_per_s, 1),
            "cpu_s": parallel.cpu,
        },
        "raw_encryption": raw,
        "ratio": {"packets": round(ratio_packets, 1), "export": round(ratio_export, 1)},
        "noisy_phases": noisy,
        "targets": {
            "packets_per_s_min": TARGET_PACKETS_PER_S,
            "packets_per_s": round(parallel_per_s, 1),
            "met": met,
            "send_packets_per_s": round(per_s, 1),
            "export_one_process_per_s": round(export_per_s, 1),
        },
        "errors": errors,
        "log_errors": len(app_errors),
    }
    status = 0 if met else 2
    if sent != len(seeded.referrals):
        status = 1
    samples = {"packets": packets.samples, "export": export.samples + parallel.samples}
    return harness.finish(figures, status, errors, app_errors, samples)


# ------------------------------------------------------------------------------ main


def in_process_app(env: dict[str, str]) -> Any:
    """The app in this process, configured exactly as gunicorn's (same environment)."""
    for key in list(os.environ):
        if key.startswith(("CONFIDE_", "FLASK_", "GUNICORN_")):
            del os.environ[key]
    os.environ.update({k: v for k, v in env.items() if k.startswith(("CONFIDE_", "FLASK_"))})
    from app import create_app

    return create_app()


def refuse_used_redis() -> None:
    """Stop before bench_setup flushes a Redis database that holds anything."""
    with Redis.from_url(REDIS_URL, socket_timeout=5) as redis:
        keys = redis.dbsize()
    if keys:
        raise SystemExit(
            f"{REDIS_URL} holds {keys} key(s) and this benchmark flushes it: set "
            f"CONFIDE_BENCH_EXPORT_REDIS_URL to an unused database"
        )


def parse_args() -> argparse.Namespace:
    """The command line; see --help."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 100 referrals")
    parser.add_argument("--referrals", type=int, help="referrals to send and export (default 1,000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--cjk",
        type=float,
        default=0.34,
        help="share of narratives in Chinese or Korean (default 0.34, a third and more)",
    )
    args = parser.parse_args()
    args.referrals = args.referrals or (100 if args.quick else 1_000)
    if not 20 <= args.referrals <= 20_000:
        parser.error("referrals 20-20,000")
    if not 0 <= args.cjk <= 1:
        parser.error("cjk is a share, 0-1")
    return args


def main() -> int:
    """Set up, measure, report; the exit status as the module docstring says."""
    args = parse_args()
    refuse_used_redis()
    # SIGTERM ends the run like Ctrl-C does, through the clean-up below and bench_setup's.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with harness.bench_setup(
        database=BENCH_DATABASE,
        redis_url=REDIS_URL,
        queue_prefix=QUEUE_PREFIX,
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-export-",
    ) as setup:
        app = in_process_app(setup.env)
        try:
            return run(args, app, setup)
        finally:
            # The in-process app's connections go before bench_setup drops the database.
            from app.extensions import db

            with app.app_context():
                db.session.remove()
                db.engine.dispose()


def run(args: argparse.Namespace, app: Any, setup: harness.Setup) -> int:
    """Seed, then each phase in turn, then the report."""
    rng = random.Random(args.seed)
    with app.app_context():
        print(f"seeding {args.referrals:,} cases and draft referrals …", flush=True)
        seeded = seed(args.referrals, rng, args.cjk)
        s = seeded.seconds
        print(
            f"  done in {s['total']} s (staff {s['staff']} s, intake {s['intake']} s, "
            f"assign/acknowledge/in progress {s['handling']} s, create_referral {s['drafts']} s)"
        )
        first = first_renders(seeded)
        stages = Stages()
        with instrumented(stages):
            print(f"sending {len(seeded.referrals):,} packets …", flush=True)
            packets = send_packets(seeded, stages)
            print(f"  {len(packets.times):,} sent in {packets.wall:.1f} s", flush=True)
            print("bulk export …", flush=True)
            export = bulk_export(seeded, stages, setup.workdir)
            print(f"  {export.referrals:,} referrals in {export.seconds:.1f} s", flush=True)
        # Without the wrappers: the rendering processes are sent the real function.
        from app.referrals.cli import default_jobs

        jobs = default_jobs(len(seeded.referrals))
        print(f"bulk export, PDFs in {jobs} processes …", flush=True)
        parallel = bulk_export(seeded, Stages(), setup.workdir, jobs=jobs)
        print(f"  {parallel.referrals:,} referrals in {parallel.seconds:.1f} s", flush=True)
        print("raw encryption of the same bytes …", flush=True)
        raw = raw_encryption(seeded.recipient, packets.payloads, export.plaintext)
        costs = wrapper_cost_us()
    app_errors = harness.app_log_errors(setup.workdir)
    return report(args, seeded, first, packets, export, parallel, jobs, raw, costs, app_errors)


if __name__ == "__main__":
    sys.exit(main())
