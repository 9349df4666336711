"""Filing a report while the database misbehaves: nothing typed is lost, nothing half-filed.

A database that refuses writes (read-only: a failover, a full disk) gives the form back whole
with 503 and Retry-After, 911 first when the report signals danger, and files it once it is
sent again. A PostgreSQL restart between two requests is not seen at all.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, func, select

from app.cases.models import Case
from app.extensions import db
from tests.helpers import hidden_fields, receipt_from, report_answers
from tests.triage.test_worker import _accepting, _pg_ctlcluster, restartable_cluster, wait_for


@contextmanager
def read_only_database() -> Iterator[None]:
    """Every new connection refuses writes, as a database in recovery or on a full disk does."""
    engine = db.engine

    def refuse_writes(connection: Any, _record: Any) -> None:
        cursor = connection.cursor()
        if engine.dialect.name == "sqlite":
            cursor.execute("PRAGMA query_only = ON")
        else:
            cursor.execute("SET default_transaction_read_only = on")
            connection.commit()  # a setting made in a transaction rolled back would not stay
        cursor.close()

    db.session.remove()
    engine.dispose()
    event.listen(engine, "connect", refuse_writes)
    try:
        yield
    finally:
        event.remove(engine, "connect", refuse_writes)
        db.session.remove()
        engine.dispose()


def cases() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Case)) or 0


@pytest.mark.parametrize("danger", [False, True], ids=["ordinary", "in danger"])
def test_a_read_only_database_gives_the_form_back_whole(client: FlaskClient, danger: bool) -> None:
    page = client.get("/report").get_data(as_text=True)
    answers = report_answers(
        narrative="He waited by my car after the session & said <things>",
        county="hartford",
        wants=["peer", "licensing"],
        **({"danger_now": "yes"} if danger else {}),
    )
    with read_only_database():
        refused = client.post("/report", data={**hidden_fields(page), **answers})
    body = refused.get_data(as_text=True)
    assert refused.status_code == 503 and refused.headers["Retry-After"] == "60"
    assert "We could not save your report just now." in body
    assert "He waited by my car after the session &amp; said &lt;things&gt;" in body
    assert '<option selected value="hartford">' in body
    ticked = re.findall(r'<input[^>]*name="wants"[^>]*>', body)
    assert sorted(tag.split('value="')[1].split('"')[0] for tag in ticked if "checked" in tag) == ["licensing", "peer"]
    if danger:
        notice = body.index("If you are in danger, call 911 now.")
        assert body.index('href="tel:911"') < notice < body.index("He waited by my car")
    assert cases() == 0

    # Sent again once the database takes writes: filed, once.
    again = client.post("/report", data={**hidden_fields(body), **answers})
    assert again.status_code == 200
    receipt_from(again)
    assert cases() == 1


def test_a_postgresql_restart_between_two_requests_is_not_seen(client: FlaskClient) -> None:
    host, port, cluster = restartable_cluster(db.engine.url)
    page = client.get("/report").get_data(as_text=True)
    db.session.remove()  # the test's own connection goes back to the pool, to be dropped too
    try:
        _pg_ctlcluster(cluster, "restart")
        assert wait_for(lambda: _accepting(host, port), 60), "PostgreSQL did not come back"
        filed = client.post("/report", data={**hidden_fields(page), **report_answers()})
        assert filed.status_code == 200, filed.get_data(as_text=True)[:500]
        receipt_from(filed)
        assert cases() == 1
    finally:
        if not _accepting(host, port):
            _pg_ctlcluster(cluster, "start")
            assert wait_for(lambda: _accepting(host, port), 60), "PostgreSQL did not start again"
        # The pool's other connections died with the server: closed now, not left to the
        # garbage collector in some later test.
        db.session.remove()
        db.engine.dispose()
