"""Triage judged like a classifier, as a coordinator would run it: labelled reports piped
through a real `flask triage explain` process."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LABELLED = Path(__file__).resolve().parent / "labelled"
SHARED_DEV = ROOT.parent / "shared" / "triage" / "dev.jsonl"
SETS = sorted(LABELLED.glob("*.jsonl")) + ([SHARED_DEV] if SHARED_DEV.is_file() else [])


def explain(lines: list[str]) -> list[dict[str, object]]:
    """One result per input line, from `flask triage explain` in a process of its own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CONFIDE_")}
    env.update(FLASK_APP="app:create_app", CONFIDE_ENV="development")
    done = subprocess.run(
        [sys.executable, "-m", "flask", "triage", "explain"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
        check=True,
    )
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(results) == len(lines), done.stderr
    return results


@pytest.fixture(scope="module")
def scored() -> dict[Path, list[tuple[dict[str, object], dict[str, object]]]]:
    """Every labelled report with its result; one process for all sets."""
    reports = {path: [json.loads(line) for line in path.read_text().splitlines() if line.strip()] for path in SETS}
    results = iter(explain([json.dumps(r, ensure_ascii=False) for rs in reports.values() for r in rs]))
    return {path: [(report, next(results)) for report in rs] for path, rs in reports.items()}


@pytest.mark.parametrize("path", SETS, ids=lambda p: p.name if p.parent == LABELLED else f"shared/{p.name}")
def test_labelled_reports_meet_the_programs_thresholds(path: Path, scored: dict) -> None:
    rows = scored[path]
    assert all("level" in result for _, result in rows), [r for _, r in rows if "level" not in r]

    def misses(expect: tuple[str, ...], wrong: tuple[str, ...]) -> list[str]:
        return [
            f"{report['expect']} scored {result['level']} {result['signals']}: {str(report['narrative'])[:120]}"
            for report, result in rows
            if report["expect"] in expect and result["level"] in wrong
        ]

    counts = Counter(str(report["expect"]) for report, _ in rows)
    assert counts["L0"] and counts["L1"] and counts["L2"] + counts["L3"], "a set needs every level"
    assert misses(("L0",), ("L1", "L2", "L3")) == [], "an imminent danger was missed"
    late = misses(("L1",), ("L2", "L3"))
    assert len(late) <= 0.1 * counts["L1"], late
    assert misses(("L2", "L3"), ("L0",)) == [], "someone would be paged at night for nothing"


def test_the_projects_own_sets_cover_every_language_and_level(scored: dict) -> None:
    own = [
        report
        for path, rows in scored.items()
        if path.parent == LABELLED and path.name != "dev.jsonl"
        for report, _ in rows
    ]
    assert len(own) >= 60
    by_language = Counter(str(report["language"]) for report in own)
    assert set(by_language) >= {"en", "es", "zh", "ko", "pt"}
    for language in ("en", "es", "zh", "ko", "pt"):
        levels = Counter(str(r["expect"]) for r in own if r["language"] == language)
        assert all(levels[level] >= 5 for level in ("L0", "L1", "L2", "L3")), (language, levels)


def test_bad_lines_get_an_error_and_the_rest_are_still_scored() -> None:
    results = explain(
        [
            '{"category": "threats", "narrative": "he is at my door with a knife"}',
            "not json at all",
            '["a", "list"]',
            '{"category": "robbery"}',
            '{"danger_now": "maybe"}',
            '{"wants": "record_only"}',
            '{"category": ["threats"], "wants": [["peer"]]}',
            "",
            '{"narrative": "老板拿走了我的护照，说我欠他八千美元"}',
            '{"danger_now": "yes"}',
        ]
    )
    assert [r.get("level") for r in results] == ["L0", None, None, None, None, None, None, None, "L1", "L0"]
    errors = [str(r.get("error", "")) for r in results]
    assert errors[1].startswith("not JSON") and errors[2] == "not a JSON object"
    assert "category must be one of" in errors[3] and "danger_now" in errors[4]
    assert "wants" in errors[5] and "category" in errors[6] and errors[7] == "empty line"
    # An error names the field, never the report's words.
    assert "knife" not in "".join(errors) and "护照" not in "".join(errors)
