"""Benchmark of the rules engine.

Checks per second over 10,000 generated requests of every type, printed beside the cost of only
parsing the same documents with the Pydantic request model (RequestDocument), measured in the
same run. Aim: the full check costs no more than 3x the parse alone, and >= 5,000 checks/s.

    .venv/bin/python bench/check_bench.py [--n 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import copy
import datetime as dt
import random
import statistics
import sys
import time
from pathlib import Path

import yaml

from evidex.rules import RequestDocument, check, default_parties

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 23)


def generate(n: int, seed: int = 185) -> list[dict]:
    """Documents of every type: the complete examples, re-addressed between the shipped Parties,
    with a random share of elements removed or unknown ones added."""
    rnd = random.Random(seed)
    bases = []
    for f in sorted((ROOT / "examples" / "requests").iterdir()):
        if f.suffix in (".yaml", ".yml", ".json") and not f.name.startswith("mistake_"):
            bases.append(yaml.safe_load(f.read_text(encoding="utf-8")))
    codes = default_parties().codes()
    docs = []
    for i in range(n):
        d = copy.deepcopy(bases[i % len(bases)])
        if rnd.random() < 0.5:
            a, b = rnd.sample(codes, 2)
            d["requesting_party"], d["requested_party"] = a, b
        els = d.get("elements", {})
        if els and rnd.random() < 0.4:
            els.pop(rnd.choice(sorted(els)), None)
        if rnd.random() < 0.1:
            els[f"note_{i % 7}"] = "free text"
        for k in ("issued_on", "received_on"):
            if isinstance(d.get(k), dt.date):
                d[k] = d[k].isoformat()  # as a JSON document would carry it
        docs.append(d)
    return docs


def best_rate(fn, docs: list[dict], repeat: int) -> float:
    rates = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for d in docs:
            fn(d)
        rates.append(len(docs) / (time.perf_counter() - t0))
    return max(rates)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    parties = default_parties()
    docs = generate(args.n)
    # Warm-up: loads the rulebook and fills caches, as a long-running process would have.
    for d in docs[:200]:
        check(d, parties, AS_OF)
    # Interleaved rounds, best of each: both figures see the same machine conditions.
    parse = full = 0.0
    for _ in range(args.repeat):
        parse = max(parse, best_rate(RequestDocument.model_validate, docs, 1))
        full = max(full, best_rate(lambda d: check(d, parties, AS_OF), docs, 1))
    verdicts = [check(d, parties, AS_OF) for d in docs]
    admissible = sum(v.admissible for v in verdicts)
    types = statistics.mode(v.request_type for v in verdicts)
    ratio = parse / full
    print(f"documents: {len(docs)} of {len({v.request_type for v in verdicts})} types "
          f"({admissible} admissible; most common {types})")
    print(f"parse only (RequestDocument.model_validate): {parse:>10,.0f} docs/s  ({1e6 / parse:6.1f} us/doc)")
    print(f"full check (parse + rules engine):           {full:>10,.0f} docs/s  ({1e6 / full:6.1f} us/doc)")
    print(f"cost of full check / parse alone: {ratio:.2f}x   (aim <= 3.00x)")
    print(f"checks per second: {full:,.0f}   (aim >= 5,000)")
    ok = ratio <= 3.0 and full >= 5000
    print("AIM MET" if ok else "AIM NOT MET")
    return 0


if __name__ == "__main__":
    sys.exit(main())
