"""Triage scoring time for 5 KB narratives in each language, beside a bare regex search:
`.venv/bin/python bench/triage.py [--samples 2000] [--bytes 5000]`. Narratives are made from the
labelled reports (the longest first), five per language; each sample scores one as intake does
and, in the same loop, runs one whole-word regex search over it, the baseline. Then hostile
posts: 256 KB (the largest request) of one phrase, aimed at each part of the reading."""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.cases.content import ReportContent
from app.config import load_settings
from app.triage.scoring import TriageRules, score
from bench import harness

BASELINE = re.compile(r"(?<!\w)(?:going to kill)(?!\w)")  # one phrase: what scoring did before concepts
MAX_REQUEST = 262144  # max_request_bytes by default
HOSTILE = {  # pairs of words, negations before a word, Korean negations after one, "if", time words
    "pairs": "took my papers ",
    "negations": "他没有拿刀",
    "korean": "칼은 없었어요 문 앞에 있어요 ",
    "if": "if he is outside with a knife ",
    "times": "he is was now yesterday knife ",
}


def narrative(language: str, size: int, seed: int) -> str:
    """``size`` bytes (UTF-8) of labelled reports in ``language``."""
    pool = list(harness.labelled(language, "L0 L1 L2 L3"))
    random.Random(seed).shuffle(pool)
    pool.sort(key=len, reverse=True)  # long ones first, in a seeded order among equals
    text = "\n\n".join(pool[i % len(pool)] for i in range(size // 100))  # more than enough
    return text.encode()[:size].decode(errors="ignore")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="scorings per language")
    parser.add_argument("--bytes", type=int, default=5000, help="narrative size in bytes")
    args = parser.parse_args()
    started = time.perf_counter()
    rules = TriageRules.from_settings(load_settings().triage)
    compile_ms = round((time.perf_counter() - started) * 1000)
    score("other", ReportContent(narrative="warm up"), rules)
    languages = {}
    for language in ("en", "es", "zh", "ko", "pt"):
        answers = [ReportContent(narrative=narrative(language, args.bytes, seed)) for seed in range(5)]
        scoring, searching = [], []
        gc.collect()
        for n in range(args.samples):
            content = answers[n % len(answers)]
            t0 = time.perf_counter()
            score("other", content, rules)
            t1 = time.perf_counter()
            BASELINE.search(content.narrative)
            scoring.append(t1 - t0)
            searching.append(time.perf_counter() - t1)
        languages[language] = {"score": harness.percentiles(scoring), "regex": harness.percentiles(searching)}
    print(f"{args.bytes}-byte narratives, {args.samples} samples per language; lexicon of ", end="")
    print(f"{rules.reader.lexicon.size} words and phrases, compiled in {compile_ms} ms")
    rows = [
        [tag, *(f[part][p] for part in ("score", "regex") for p in ("p50_ms", "p95_ms"))]
        for tag, f in languages.items()
    ]
    harness.table(["language", "score p50 ms", "score p95 ms", "regex p50 ms", "regex p95 ms"], rows)
    worst = max(f["score"]["p95_ms"] for f in languages.values())
    print(f"\nworst p95: {worst:.3f} ms (target: under 1 ms): {'met' if worst < 1 else 'MISSED'}")
    hostile = {}
    for name, phrase in HOSTILE.items():
        text = phrase * (MAX_REQUEST // len(phrase.encode()))
        t0 = time.perf_counter()
        score("other", ReportContent(narrative=text), rules)
        hostile[name] = round((time.perf_counter() - t0) * 1000, 1)
    print("hostile 256 KB posts (ms): " + ", ".join(f"{name} {ms}" for name, ms in hostile.items()))
    figures = {"bench": "triage", "bytes": args.bytes, "samples": args.samples, "compile_ms": compile_ms}
    print(json.dumps(figures | {"worst_p95_ms": worst, "languages": languages, "hostile_ms": hostile}))


if __name__ == "__main__":
    main()
