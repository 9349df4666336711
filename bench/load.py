"""Locust users for the HTTP benchmarks, run headless by harness.locust in a process of its own:
each a browser tab (one connection, its own cookies, no pause). A form and its answer are also
recorded whole, as type PAIR; every answer is checked. Baseline and Reporter: bench/intake.py.
Staff: the paths in CONFIDE_BENCH_PATHS (JSON: path -> texts each answer holds, the last with
how many times), signed in with the cookies in CONFIDE_BENCH_COOKIES (bench/staff_pages.py);
Search: the same session posts the searches in CONFIDE_BENCH_SEARCHES (JSON: typed -> case id)."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
import time
from http.cookiejar import Cookie
from typing import Any
from urllib.parse import urlencode

import gevent
from locust import FastHttpUser, constant, events, task

from bench.harness import RECEIPT_RE, SecureOverHttp, category, hidden_fields, story

# Importing the app took a while: without this, gevent's stale clock ends the run that much early.
gevent.get_hub().loop.update_now()

HEADERS = {"Accept": "text/html", "Accept-Language": "en"}
FORM = HEADERS | {"Content-Type": "application/x-www-form-urlencoded"}


def report(rng: random.Random, n: int) -> dict[str, Any]:
    """A report as reporters write them; one in four gives a name and a way to reach them."""
    answers = {
        "identity": "anonymous",
        "category": category(rng),
        "narrative": story(rng, "en", rng.randint(250, 500)),
        "perpetrator": rng.choice(["client", "employer", "coworker", ""]),
        "setting": rng.choice(["clinic", "franchise", "outcall", "hotel", ""]),
        "when": rng.choice(["72h", "week", "month", "year", ""]),
        "county": rng.choice(["hartford", "new_haven", "fairfield", "outside", ""]),
        "danger_now": rng.choice(["no", "no", "no", "unsure", "yes"]),
        "injured": rng.choice(["no", "no", "unsure", "yes"]),
        "ongoing": rng.choice(["yes", "no", "unsure"]),
        "wants": rng.sample(["peer", "legal", "licensing", "record_only"], rng.randint(0, 2)),
        "language": "en",
        "peer_support": "y",
    }
    if rng.random() < 0.25:
        answers |= {"identity": "named", "name": f"Reporter {n}", "email": f"reporter{n}@example.org"}
        answers |= {"phone": "860-555-0100", "safe_times": "Weekdays after 6 pm", "voicemail_ok": "no"}
        answers |= {"code_word": "bluebird", "contact_email": "y", "contact_text": "y", "legal_referral": "y"}
    return {k: v for k, v in answers.items() if v not in ("", [])}


class Tab(FastHttpUser):
    abstract = True
    wait_time = constant(0)
    numbers = itertools.count(1)

    def on_start(self) -> None:
        self.client.cookiejar.set_policy(SecureOverHttp())
        self.rng = random.Random(next(self.numbers))

    def pair(self, name: str, path: str, form: dict[str, Any], answered: re.Pattern[str]) -> None:
        """GET a form at ``path``, POST it back with ``form``; the answer must match ``answered``."""
        start = time.perf_counter()
        with self.client.get(path, headers=HEADERS, catch_response=True) as page:
            hidden = hidden_fields(page.text or "")
            if page.status_code != 200 or "csrf_token" not in hidden:
                return page.failure(f"{page.status_code}, hidden fields {sorted(hidden)}")
        body = urlencode(hidden | form, doseq=True)
        with self.client.post(path, data=body, headers=FORM, catch_response=True) as answer:
            if answer.status_code != 200 or not answered.search(answer.text or ""):
                return answer.failure(f"{answer.status_code}: {(answer.text or '')[:120]!r}")
        took = (time.perf_counter() - start) * 1000
        events.request.fire(request_type="PAIR", name=name, response_time=took, response_length=0, exception=None)


class Baseline(Tab):
    @task
    def baseline(self) -> None:
        self.pair("baseline", "/bench/baseline", {"note": "a note"}, re.compile(r"\Aok\n\Z"))


class Reporter(Tab):
    @task
    def submission(self) -> None:
        self.pair("submission", "/report", report(self.rng, next(self.numbers)), RECEIPT_RE)


class Staff(Tab):
    def on_start(self) -> None:
        super().on_start()
        for name, value in json.loads(os.environ["CONFIDE_BENCH_COOKIES"]).items():
            self.client.cookiejar.set_cookie(Cookie(0, name, value, None, False, "127.0.0.1", False, False, "/",
                                                    True, False, None, False, None, None, {}))  # fmt: skip
        expect = json.loads(os.environ["CONFIDE_BENCH_PATHS"])
        self.paths = itertools.islice(itertools.cycle(expect.items()), self.rng.randrange(len(expect)), None)

    @task
    def page(self) -> None:
        path, texts = next(self.paths)
        *contains, (last, times) = texts
        with self.client.get(path, headers=HEADERS, catch_response=True) as page:
            body = page.text or ""
            missing = [text for text in contains if text not in body]
            if page.status_code != 200 or missing or body.count(last) != times:
                page.failure(f"{page.status_code}: {missing[:1]} missing, {body.count(last)} of {times} {last!r}")


class Search(Staff):
    def on_start(self) -> None:
        super().on_start()
        self.searches = itertools.cycle(json.loads(os.environ["CONFIDE_BENCH_SEARCHES"]).items())
        self.token = hidden_fields(self.client.get("/cases", headers=HEADERS).text or "")

    @task
    def page(self) -> None:
        typed, case_id = next(self.searches)
        body = urlencode(self.token | {"search-q": typed})
        with self.client.post("/cases/search", data=body, headers=FORM, allow_redirects=False,
                              catch_response=True) as found:  # fmt: skip
            if found.status_code != 303 or not (found.headers.get("Location") or "").endswith(f"/cases/{case_id}"):
                found.failure(f"{found.status_code} to {found.headers.get('Location')}")
