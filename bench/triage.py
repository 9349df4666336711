"""Triage scoring time for 5 KB narratives in each language, beside a bare regex search.

    python bench/triage.py [--samples 2000] [--bytes 5000]

Narratives are built from the labelled reports in tests/triage/labelled/ (the longest first,
then the rest, until the size is reached), several per language in different orders. Each
sample scores one narrative with ``app.triage.scoring.score`` as intake does, and, in the
same loop, runs one precompiled whole-word regex search over the same text: the cheapest
reading of a narrative there is, and the baseline. Then it times hostile posts: the largest
request the app takes (256 KB), one phrase over and over, aimed at each part of the reading.
Nothing but this process runs; no service is needed. Prints a table and ends with one JSON
line.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.cases.content import ReportContent  # noqa: E402
from app.config import load_settings  # noqa: E402
from app.triage.scoring import TriageRules, score  # noqa: E402

LABELLED = ROOT / "tests" / "triage" / "labelled"
LANGUAGES = ("en", "es", "zh", "ko", "pt")
# One phrase, looked for as a whole word: what the scoring did before it read concepts.
BASELINE = re.compile(r"(?<!\w)(?:going to kill)(?!\w)")
TEXTS_PER_LANGUAGE = 5
MAX_REQUEST = 262144  # max_request_bytes by default
# One phrase repeated, each aimed at a part of the reading: pairs of words, negations before
# a word, Korean negations after one, "if", time words.
HOSTILE = {
    "pairs": "took my papers ",
    "negations": "他没有拿刀",
    "korean": "칼은 없었어요 문 앞에 있어요 ",
    "if": "if he is outside with a knife ",
    "times": "he is was now yesterday knife ",
}


def narratives(language: str, size: int, seed: int) -> str:
    """A narrative of ``size`` bytes (UTF-8) from the labelled reports in ``language``."""
    rows = [
        json.loads(line) for path in LABELLED.glob("*.jsonl") for line in path.read_text().splitlines() if line.strip()
    ]
    pool = [r["narrative"] for r in rows if r["language"] == language and r["narrative"]]
    random.Random(seed).shuffle(pool)
    pool.sort(key=len, reverse=True)  # long ones first, in a seeded order among equals
    text, index = "", 0
    while len(text.encode()) < size:
        text += ("\n\n" if text else "") + pool[index % len(pool)]
        index += 1
    return text.encode()[:size].decode(errors="ignore")


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=2000, help="scorings per language")
    parser.add_argument("--bytes", type=int, default=5000, help="narrative size in bytes")
    args = parser.parse_args()

    started = time.perf_counter()
    rules = TriageRules.from_settings(load_settings().triage)
    compile_ms = (time.perf_counter() - started) * 1000
    score("other", ReportContent(narrative="warm up"), rules)

    rows = []
    for language in LANGUAGES:
        texts = [narratives(language, args.bytes, seed) for seed in range(TEXTS_PER_LANGUAGE)]
        answers = [ReportContent(narrative=text) for text in texts]
        scoring, searching = [], []
        gc.collect()
        for n in range(args.samples):
            content = answers[n % len(answers)]
            t0 = time.perf_counter_ns()
            score("other", content, rules)
            t1 = time.perf_counter_ns()
            BASELINE.search(content.narrative)
            t2 = time.perf_counter_ns()
            scoring.append((t1 - t0) / 1e6)
            searching.append((t2 - t1) / 1e6)
        rows.append(
            {
                "language": language,
                "chars": round(statistics.mean(len(t) for t in texts)),
                "score_p50_ms": round(percentile(scoring, 0.50), 3),
                "score_p95_ms": round(percentile(scoring, 0.95), 3),
                "regex_p50_ms": round(percentile(searching, 0.50), 4),
                "regex_p95_ms": round(percentile(searching, 0.95), 4),
            }
        )

    print(f"Triage scoring, {args.bytes}-byte narratives, {args.samples} samples per language")
    print(f"lexicon: {rules.reader.lexicon.size} words and phrases, compiled in {compile_ms:.0f} ms\n")
    header = (
        f"{'language':<9}{'chars':>7}"
        + "".join(f"{name:>12}" for name in ("score p50", "score p95", "regex p50", "regex p95"))
        + f"{'p95 ratio':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        ratio = row["score_p95_ms"] / max(row["regex_p95_ms"], 1e-6)
        print(
            f"{row['language']:<9}{row['chars']:>7}{row['score_p50_ms']:>10.3f}ms{row['score_p95_ms']:>10.3f}ms"
            f"{row['regex_p50_ms']:>10.4f}ms{row['regex_p95_ms']:>10.4f}ms{ratio:>10.0f}x"
        )
    worst = max(row["score_p95_ms"] for row in rows)
    print(f"\nworst p95: {worst:.3f} ms (target: under 1 ms)")

    # Hostile posts: the largest request the app takes, one phrase over and over.
    hostile = {}
    for name, phrase in HOSTILE.items():
        text = phrase * (MAX_REQUEST // len(phrase.encode()))
        t0 = time.perf_counter()
        score("other", ReportContent(narrative=text), rules)
        hostile[name] = round((time.perf_counter() - t0) * 1000, 1)
    print("hostile 256 KB posts (ms): " + ", ".join(f"{name} {ms}" for name, ms in hostile.items()))
    print(
        json.dumps(
            {
                "bench": "triage",
                "bytes": args.bytes,
                "samples": args.samples,
                "compile_ms": round(compile_ms),
                "worst_p95_ms": worst,
                "languages": rows,
                "hostile_ms": hostile,
            }
        )
    )


if __name__ == "__main__":
    main()
