"""`flask insights recount`: count every filed report's and support request's answers again,
with the keyring."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import ColumnElement, select

from app.cases.conversation import open_case_key
from app.cases.models import Case
from app.cases.sealing import open_json
from app.cases.tallies import recount
from app.extensions import db

insights_cli = AppGroup("insights", help="The program's figures.")
BATCH = 500


def _reports(which: ColumnElement[bool], *, sealed: bool = True) -> Iterator[tuple[Case, Mapping[str, str]]]:
    """Each case ``which`` selects, with the answers its sealed report gives to who, where and
    when (``sealed``; a support request asks none of them)."""
    for case in db.session.scalars(select(Case).where(which).execution_options(yield_per=BATCH)):
        if not sealed:
            yield case, {}
            continue
        report = open_json(open_case_key(case), case.report_sealed, record="case", record_id=case.id, field="report")
        yield case, {key: str(report.get(key) or "") for key in ("setting", "perpetrator", "when")}


@insights_cli.command("recount")
def recount_command() -> None:
    """Count every report's answers again from the cases themselves (the sealed ones opened
    with the keyring, in memory only): after upgrading from a version that did not count them,
    or to check them. Support requests are counted again too, those that became reports among
    them. Replaces the counts in one transaction."""
    counted = recount(_reports(Case.kind == "report"))
    asked = (Case.kind == "support") | Case.became_report_at.is_not(None)
    support = recount(_reports(asked, sealed=False), kind="support")
    db.session.commit()
    click.echo(f"Counted the answers of {counted} reports and {support} support requests.")


def init_cli(app: Flask) -> None:
    app.cli.add_command(insights_cli)
