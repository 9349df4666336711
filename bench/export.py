"""Referral packets to counsel: send_referral one by one, and the bulk export.

Starts a fresh PostgreSQL database (dropped at the end), an empty Redis database
(CONFIDE_BENCH_EXPORT_REDIS_URL, default 10; flushed) and the app in this process, set up as
gunicorn's. Files --referrals reports through intake (--cjk of them Chinese or Korean), each
handled and with a draft referral to one counsel. Measures the first packet PDFs of the
process (Latin, Chinese, Korean) and warm ones; send_referral for every draft; the bulk
export in one process, then with the rendering processes `flask referrals export` would use
(one per CPU for 200 referrals or more), each decrypted by the counsel and checked; and, as
the baseline, pyrage.encrypt alone of the same bytes. Target: the export with rendering
processes makes at least 50 packets per second. Exit status 0 met, 1 errors, 2 missed; the
last line is one JSON object with every figure.

    .venv/bin/python bench/export.py [--quick]      (--quick: 100 referrals, not 1,000)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import signal
import statistics
import sys
import time
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyrage
from pyrage import x25519
from redis import Redis
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from app import create_app
from app.cases.consent import current_consent
from app.cases.content import ContactDetails
from app.cases.models import Case
from app.casework import services as cases
from app.extensions import db
from app.referrals import export, packet, pdf
from app.referrals import services as referrals
from app.referrals.cli import default_jobs
from app.referrals.models import Referral
from app.staff.models import StaffUser
from bench import harness
from tests.factories import make_case, make_counsel, make_referral, make_staff

REDIS_URL = os.environ.get("CONFIDE_BENCH_EXPORT_REDIS_URL", "redis://127.0.0.1:6379/10")
TARGET_PACKETS_PER_S = 50.0
# The packet PDF picks its CJK face by the report's language, so the program offers them.
CONFIG_TOML = 'languages = ["en", "es", "zh-Hans", "ko"]\n'

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


@dataclass
class Seeded:
    coordinator_id: str
    counsel_email: str
    identity: x25519.Identity
    referrals: dict[str, str]  # draft referral id -> its report's language, in the order made


def seed(count: int, rng: random.Random, cjk_share: float) -> Seeded:
    """A coordinator, a responder, a counsel; ``count`` reports through intake, each assigned,
    acknowledged and in progress (a real timeline for its packet) and drafted a referral."""
    coordinator, responder = make_staff("coordinator"), make_staff("responder")
    counsel = make_counsel(languages="en, es, zh, ko")
    seeded = Seeded(coordinator.id, counsel.user.email, counsel.identity, {})
    cjk = max(2, round(count * cjk_share))  # at least one Chinese and one Korean report
    languages = ["zh-Hans", "ko"] * (cjk // 2) + ["zh-Hans"] * (cjk % 2) + ["es"] * round((count - cjk) / 4)
    languages += ["en"] * (count - len(languages))
    rng.shuffle(languages)
    for n, language in enumerate(languages):
        sentences, joiner, names = LANGUAGES[language]
        story, chars = [], rng.randint(1_200, 1_800)
        while len(joiner.join(story)) < chars:
            story.append(rng.choice(sentences))
        named = n % 2 == 1  # half are named, and let counsel see who they are
        consent = {"legal_referral": True} | dict.fromkeys(
            ("identity_to_counsel", "contact_email", "contact_text"), named
        )
        contact = ContactDetails(rng.choice(names), f"reporter{n}@example.org", "860-555-0147", "Evenings")
        case = make_case(
            category=rng.choices(list(harness.CATEGORY_WEIGHTS), list(harness.CATEGORY_WEIGHTS.values()))[0],
            narrative=joiner.join(story),
            language=language,
            contact=contact if named else None,
            consent=consent,
            perpetrator=rng.choice(["client", "employer", "coworker", "other", ""]),
            setting=rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
            when=rng.choice(["72h", "week", "month", "year", "older"]),
            danger_now=rng.choice(["no", "no", "no", "unsure"]),
            injured=rng.choice(["no", "no", "unsure", "yes"]),
            ongoing=rng.choice(["yes", "no", "unsure"]),
            wants=("legal",) + tuple(rng.sample(["peer", "licensing"], rng.randint(0, 2))),
        )
        cases.assign(coordinator.user, case, responder.id)
        cases.acknowledge(responder.user, case)
        cases.change_status(responder.user, case, "in_progress")
        seeded.referrals[make_referral(case, counsel, coordinator, send=False).id] = language
        if (n + 1) % 250 == 0:
            print(f"  {n + 1:,} reports filed, handled and drafted", flush=True)
    db.session.remove()
    return seeded


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def first_renders(seeded: Seeded) -> dict[str, float]:
    """The first packet PDFs of this process, Latin, Chinese, Korean (each reads its fonts);
    then the same warm, median of 5."""
    documents = {}
    for language in ("en", "zh-Hans", "ko"):
        referral = db.session.get(Referral, next(r for r, tag in seeded.referrals.items() if tag == language))
        case = db.session.get(Case, referral.case_id) if referral else None
        assert referral is not None and case is not None
        consent = current_consent(case.id)  # the document as send_referral builds it
        identity = consent["identity_to_counsel"] and case.is_named
        documents[language] = packet.build_document(referral, case, consent=consent, identity=identity)
    db.session.remove()
    figures = {
        f"first_{tag}_ms": round(1000 * timed(partial(pdf.render_packet_pdf, d)), 1) for tag, d in documents.items()
    }
    for tag, document in documents.items():
        warm = statistics.median(timed(partial(pdf.render_packet_pdf, document)) for _ in range(5))
        figures[f"warm_{tag}_ms"] = round(1000 * warm, 1)
    return figures


def send_packets(seeded: Seeded, tally: harness.Tally) -> dict[str, list[float]]:
    """send_referral for every draft, each in a session of its own as a request has: the
    seconds of each packet, by script ("latin", "cjk")."""
    times: dict[str, list[float]] = {"latin": [], "cjk": []}
    for referral_id, language in seeded.referrals.items():
        coordinator = db.session.get(StaffUser, seeded.coordinator_id)
        referral = db.session.get(Referral, referral_id)
        assert coordinator is not None and referral is not None
        start = time.perf_counter()
        try:
            referrals.send_referral(coordinator, referral)
            times["cjk" if language in CJK else "latin"].append(time.perf_counter() - start)
        except (referrals.ReferralError, packet.PacketError, SQLAlchemyError) as error:  # counted; the run goes on
            tally.error(f"{referral_id}: {error.__class__.__name__}: {error}")
        db.session.remove()
    return times


def bulk_export(seeded: Seeded, workdir: Path, jobs: int, tally: harness.Tally) -> tuple[dict[str, float], bytes]:
    """plan_export + write_export, PDFs rendered in ``jobs`` processes, timed; then opened as
    counsel would, every referral looked for with its files. The figures, and the ZIP."""
    out = workdir / "export.zip.age"
    start = time.perf_counter()
    count = export.write_export(export.plan_export(seeded.counsel_email), out, jobs=jobs)
    figures = phase(time.perf_counter() - start, count=count)
    db.session.remove()
    opened = pyrage.decrypt(out.read_bytes(), [seeded.identity])
    out.unlink()
    with zipfile.ZipFile(io.BytesIO(opened)) as archive:
        listed = {entry["id"] for entry in json.loads(archive.read("index.json"))["referrals"]}
        names = set(archive.namelist())
    files = ("README.txt", "packet.json", "packet.pdf")
    whole = {r for r in listed if all(f"referral-{r}/{name}" in names for name in files)}
    if count != len(seeded.referrals) or whole != set(seeded.referrals):
        tally.error(f"export, {jobs} process(es): {count} referrals, {len(whole)} whole, of {len(seeded.referrals)}")
    return figures, opened


def raw_encryption(seeded: Seeded, export_zip: bytes) -> tuple[dict[str, float], dict[str, float]]:
    """The baseline: pyrage.encrypt alone, to the same recipient, of the ZIPs the pipeline
    encrypted: each stored packet's (decrypted again), and the export's (median of 3)."""
    query = select(Referral.packet).where(Referral.id.in_(list(seeded.referrals)))
    zips = [pyrage.decrypt(p, [seeded.identity]) for p in db.session.scalars(query) if p is not None]
    db.session.remove()
    to = [seeded.identity.to_public()]
    times = [timed(partial(pyrage.encrypt, plaintext, to)) for plaintext in zips]
    export_s = statistics.median(timed(partial(pyrage.encrypt, export_zip, to)) for _ in range(3))
    return phase(sum(times), times), phase(export_s, count=1)


def phase(seconds: float, times: list[float] | None = None, count: int = 0) -> dict[str, float]:
    """A phase's figures: how many, in how many seconds, per second; from ``times``, each one's
    seconds, also p50/p95/p99 ms."""
    if times is not None:
        return {**harness.summary(times, seconds), "seconds": round(seconds, 3)}
    return {"requests": count, "seconds": round(seconds, 3), "per_s": round(count / seconds, 1)}


# The rows of the table: the key of each in the JSON line, and its label; the figures shown.
ROWS = {
    "send": "send_referral one by one, all",
    "send_latin": "  Latin script (en, es)",
    "send_cjk": "  CJK (zh-Hans, ko)",
    "export": "bulk export, one process",
    "export_jobs": "bulk export, {jobs} rendering processes",
    "raw_packets": "baseline: pyrage.encrypt, packets' ZIPs",
    "raw_export": "baseline: pyrage.encrypt, export's ZIP",
}
FIGURES = ("requests", "seconds", "per_s", "p50_ms", "p95_ms")
COLUMNS = [harness.Column("measure", 42), harness.Column("count", 7), harness.Column("seconds", 9, ".2f")]
COLUMNS += [harness.Column(title, 8, ".1f") for title in ("per s", "p50 ms", "p95 ms")]


def run(args: argparse.Namespace, setup: harness.Setup) -> int:
    """Seed, measure each phase in turn, print the table and the target line, then the JSON."""
    tally = harness.Tally()
    print(f"seeding {args.referrals:,} reports and draft referrals …", flush=True)
    seeded = seed(args.referrals, random.Random(args.seed), args.cjk)
    figures: dict[str, Any] = {"bench": "export", "referrals": args.referrals, "cjk_share": args.cjk}
    figures["first_render_ms"] = first = first_renders(seeded)
    print(f"sending {len(seeded.referrals):,} packets …", flush=True)
    cpu_before, start = harness.cpu_snapshot([]), time.perf_counter()
    times = send_packets(seeded, tally)
    figures["send"] = phase(time.perf_counter() - start, times["latin"] + times["cjk"])
    for script, chosen in times.items():
        figures[f"send_{script}"] = phase(sum(chosen), chosen)  # their own time: per s is 1 / mean
    jobs = default_jobs(len(seeded.referrals))
    print(f"bulk export, in one process and with {jobs} rendering process(es) …", flush=True)
    figures["export"], export_zip = bulk_export(seeded, setup.workdir, 1, tally)
    # Until now this process did all the bench's work: CPU others used was another job's.
    used = harness.cpu_used(cpu_before, harness.cpu_snapshot([]))
    figures["cpu_s"] = cpu = {k: round(used[k], 1) for k in ("bench", "postgres", "other")}
    figures["export_jobs"], _ = bulk_export(seeded, setup.workdir, jobs, tally)
    figures["raw_packets"], figures["raw_export"] = raw_encryption(seeded, export_zip)

    print()
    rows = [(label.format(jobs=jobs), *(figures[key].get(k) for k in FIGURES)) for key, label in ROWS.items()]
    harness.print_table(COLUMNS, rows)
    print("(Latin and CJK: seconds is their packets' own time, and per s 1 / mean)")
    print(
        f"first renders in this process: Latin {first['first_en_ms']:.0f} ms, then Chinese "
        f"{first['first_zh-Hans_ms']:.0f} ms, then Korean {first['first_ko_ms']:.0f} ms; warm: Latin "
        f"{first['warm_en_ms']:.1f} ms, Chinese {first['warm_zh-Hans_ms']:.1f} ms, Korean {first['warm_ko_ms']:.1f} ms"
    )
    if cpu["other"] > 0.25 * cpu["bench"]:  # another job on the machine lowers every figure
        print(f"WARNING: other processes used {cpu['other']:.0f} CPU s while this one used {cpu['bench']:.0f}")
    per_s = figures["export_jobs"]["per_s"]
    figures["target"] = {"packets_per_s_min": TARGET_PACKETS_PER_S, "jobs": jobs, "met": per_s >= TARGET_PACKETS_PER_S}
    print(
        f"\npackets per second for {args.referrals:,} referrals, bulk export with {jobs} rendering processes = "
        f"{per_s:.1f} (target >= {TARGET_PACKETS_PER_S:g}): {'met' if per_s >= TARGET_PACKETS_PER_S else 'MISSED'}"
    )
    status = 0 if figures["target"]["met"] else 2
    return harness.finish(figures, status, tally.errors, harness.app_log_errors(setup.workdir), {"run": tally.samples})


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a short run: 100 referrals")
    parser.add_argument("--referrals", type=int, help="referrals to send and export (default 1,000)")
    parser.add_argument("--cjk", type=float, default=0.34, help="share of reports in Chinese or Korean (0.34)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    args.referrals = args.referrals or (100 if args.quick else 1_000)
    if not 20 <= args.referrals <= 20_000 or not 0 <= args.cjk <= 0.9:
        parser.error("referrals 20-20,000; cjk 0-0.9 (the first renders need an English report)")
    with Redis.from_url(REDIS_URL, socket_timeout=5) as redis:
        if redis.dbsize():
            raise SystemExit(f"{REDIS_URL} holds keys, and this bench flushes it: name another database")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up on TERM as on Ctrl-C
    with harness.bench_setup(
        database="confide_bench_export",
        redis_url=REDIS_URL,
        queue_prefix="confide-bench-export",
        config_toml=CONFIG_TOML,
        workdir_prefix="confide-bench-export-",
    ) as setup:
        os.environ.clear()  # the app as gunicorn would have it: this environment and no other
        os.environ.update(setup.env)
        with create_app().app_context():
            try:
                return run(args, setup)
            finally:  # the app's connections go before bench_setup drops the database
                db.session.remove()
                db.engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
