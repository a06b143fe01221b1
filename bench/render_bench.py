"""Benchmark of the official documents (issue 15): documents per second and peak memory over 100
documents (the ten request types in the six languages, and bilingual ones), printed beside WeasyPrint
rendering a plain HTML page of the same text length in the same run. Aim: an official document costs
no more than 3x the plain page.

Each side runs in its own process (forked: the same imports), so that each has its own peak memory;
the rounds alternate and the best of each is kept, so both see the same machine. CPU seconds per
document are the figure compared (a busy machine stretches wall time for both alike, but unevenly).

    .venv/bin/python bench/render_bench.py [--n 100] [--repeat 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import re
import resource
import sys
import time
from pathlib import Path

import yaml

from evidex.cases.service import Law, json_safe
from evidex.documents.i18n import Languages
from evidex.documents.render import html_of, render_pdf
from evidex.documents.seal import seal_pdf
from evidex.documents.sheet import build_sheet
from evidex.exchange import keys
from evidex.rules import check
from evidex.rules.texts import LOCALES

ROOT = Path(__file__).resolve().parents[1]
AS_OF = dt.date(2026, 11, 23)
NOW = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.UTC)
TYPES = ["preservation", "mutual_assistance", "realtime_traffic", "interception", "spontaneous_information",
         "domain_registration", "subscriber_order", "give_effect_order", "emergency_disclosure",
         "emergency_mutual_assistance"]


def workload(n: int) -> list[tuple[dict, dict, list[str]]]:
    """(document, verdict, languages) of `n` documents: every type in every language, then bilingual ones."""
    law = Law()
    examples = {t: json_safe(yaml.safe_load((ROOT / "examples" / "requests" / f"{t}.yaml").read_text("utf-8")))
                for t in TYPES}
    verdicts = {t: check(d, law.parties, AS_OF, rulebook=law.rulebook).to_json_dict() for t, d in examples.items()}
    out = []
    for i in range(n):
        t = TYPES[i % len(TYPES)]
        k = i // len(TYPES)
        langs = [LOCALES[k % len(LOCALES)]]
        if k >= len(LOCALES):  # after every type in every language: bilingual documents
            langs.append(LOCALES[(k + 1) % len(LOCALES)])
        out.append((examples[t], verdicts[t], langs))
    return out


def plain_page(html: str) -> str:
    """A plain HTML page with the text of an official document: paragraphs, no style sheet, no tables,
    no running header, default fonts, no PDF/A, no tags."""
    body = html.split("<body>", 1)[1]
    text = re.sub(r"<[^>]+>", "\n", body)
    paragraphs = [" ".join(p.split()) for p in text.split("\n") if p.strip()]
    return "<!doctype html><html><body>" + "".join(f"<p>{p}</p>" for p in paragraphs) + "</body></html>"


def run(kind: str, n: int, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from weasyprint import HTML

    law = Law()
    work = workload(n)
    sheets = [build_sheet(law, d, v, Languages(langs), now=NOW) for d, v, langs in work]
    pages = [plain_page(html_of(s)) for s in sheets] if kind == "plain" else []
    chars = sum(len(re.sub(r"<[^>]+>", "", p)) for p in pages)

    node = keys.generate("RS", "https://rs.example:8443")  # the issuing node's key (kind "sealed")

    def one(i: int) -> bytes:
        if kind == "plain":
            return HTML(string=pages[i]).write_pdf()  # type: ignore[no-any-return]
        pdf = render_pdf(sheets[i])
        if kind == "sealed":  # what the node hands out: the request embedded and signed (documents/seal.py)
            document = work[i][0]
            pdf = seal_pdf(pdf, document=document, lang=sheets[i].languages.locales[0], translation_lang=None,
                           identity=node, authority="bench", signed_at=NOW)
        return pdf

    one(0)  # warm-up: fonts loaded and the style sheet parsed, as in a running node
    rss_after_one = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    cpu, wall, size = time.process_time(), time.perf_counter(), 0
    for i in range(n):
        size += len(one(i))
    queue.put({"kind": kind, "cpu": time.process_time() - cpu, "wall": time.perf_counter() - wall, "bytes": size,
               "rss_one_kib": rss_after_one, "rss_peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
               "chars": chars})


def measure(kind: str, n: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    p = ctx.Process(target=run, args=(kind, n, queue))
    p.start()
    result = queue.get()
    p.join()
    return result  # type: ignore[no-any-return]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    best: dict[str, dict] = {}
    for _ in range(args.repeat):
        for kind in ("official", "sealed", "plain"):
            r = measure(kind, args.n)
            if kind not in best or r["cpu"] < best[kind]["cpu"]:
                best[kind] = r
    o, sealed, p = best["official"], best["sealed"], best["plain"]
    print(f"documents: {args.n} (10 request types x 6 languages, then bilingual), best of {args.repeat} rounds")
    for label, r in (("official document (PDF/A-3b, tagged, QR, fonts embedded)", o),
                     ("the same, sealed (request embedded, its pages' text extracted and signed)", sealed),
                     ("plain HTML page, same text, WeasyPrint defaults", p)):
        print(f"{label}:")
        print(f"  {args.n / r['wall']:6.2f} documents/s wall, {r['cpu'] / args.n * 1000:6.0f} ms CPU per document, "
              f"{r['bytes'] / args.n / 1024:5.0f} KiB per PDF")
        print(f"  peak memory (max RSS): {r['rss_peak_kib'] / 1024:.0f} MB (after the first document: "
              f"{r['rss_one_kib'] / 1024:.0f} MB)")
    ratio = o["cpu"] / p["cpu"]
    print(f"plain pages' text: {p['chars'] / args.n:,.0f} characters per document on average")
    print(f"cost of an official document / a plain page (CPU): {ratio:.2f}x   (aim <= 3.00x); "
          f"wall: {o['wall'] / p['wall']:.2f}x")
    sealed_ratio = sealed["cpu"] / p["cpu"]
    print(f"cost of a sealed official document / a plain page (CPU): {sealed_ratio:.2f}x   (aim <= 3.00x); "
          f"wall: {sealed['wall'] / p['wall']:.2f}x")
    print("AIM MET (rendering)" if ratio <= 3.0 else "AIM NOT MET (rendering)")
    print("AIM MET (sealed)" if sealed_ratio <= 3.0 else "AIM NOT MET (sealed)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
