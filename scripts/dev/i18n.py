"""Keep the translations of the law's labels (src/evidex/rules/data/i18n/<locale>.yaml) in step
with the English of the rule data. A development aid: evidex itself only reads the files.

  python scripts/dev/i18n.py status [LOCALE...]       what is missing, stale or unknown
  python scripts/dev/i18n.py todo LOCALE              the English still to translate, once each (YAML)
  python scripts/dev/i18n.py fill LOCALE [MEMORY]     rewrite LOCALE's file in the data's order: drop
        unknown keys; fill missing or stale keys whose English the file (or MEMORY, a YAML mapping
        English -> translation, e.g. the output of `todo` translated) already translates; keep the
        rest as they are, so the loader keeps naming them
  python scripts/dev/i18n.py translit                 write sr-Latn.yaml from sr-Cyrl.yaml (Serbian
        Latin is the exact transliteration of Serbian Cyrillic)

Run from the repository root with PYTHONPATH=src.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path
from typing import Any

import yaml

from evidex.requests.lifecycle import default_lifecycle
from evidex.rules import default_rulebook
from evidex.rules.texts import LOCALES, SOURCE_LOCALE, i18n_dir, source_texts

HEADER = """\
# The law's labels in {name} ({locale}): key -> {{en: the English of the rule data it translates,
# t: the translation}}. evidex refuses to start if a key is missing, unknown, or its `en` is no
# longer the English of the data (stale): update `t` and `en` together (scripts/dev/i18n.py helps).
# Article references stay as in the source (ETS185 Art 29(2)(a)).{note}
"""
NAMES = {"sr-Cyrl": "Serbian, Cyrillic script", "sr-Latn": "Serbian, Latin script", "cnr": "Montenegrin",
         "sl": "Slovenian", "fr": "French"}
NOTES = {
    "sr-Cyrl": "\n# Terms as the Serbian translation of CETS224 uses them (Zakon o potvrđivanju, Sl. glasnik RS -\n"
               "# MU 7/2022): страна молиља, замољена страна, централни орган, тачка за контакт 24/7,\n"
               "# заштита (preservation), пружалац услуга, подаци о претплатнику, подаци о саобраћају.",
    "sr-Latn": "\n# Generated from sr-Cyrl.yaml by scripts/dev/i18n.py translit: edit sr-Cyrl.yaml, then regenerate.",
    "cnr": "\n# Terms as the Montenegrin translation of ETS185 uses them (Zakon o potvrđivanju Konvencije o\n"
           "# računarskom kriminalu, Sl. list CG - MU 4/2009): članica koja upućuje zahtjev, zamoljena članica,\n"
           "# centralni organ, mjesto za kontakte (Mreža tipa 24/7), brzo čuvanje, davalac usluga.",
    "sl": "\n# Terms of the Slovenian translation of ETS185 (Konvencija o kibernetski kriminaliteti): pogodbenica\n"
          "# prosilka, zaprošena pogodbenica, osrednji organ, hitna hramba shranjenih računalniških podatkov.",
    "fr": "\n# Terms of the French authentic text of ETS185 (Convention sur la cybercriminalité) and CETS224:\n"
          "# Partie requérante, Partie requise, autorité centrale, point de contact 24/7, entraide.",
}

_CYR = dict(zip("абвгдђежзијклљмнњопрстћуфхцчџш",
                ["a", "b", "v", "g", "d", "đ", "e", "ž", "z", "i", "j", "k", "l", "lj", "m", "n", "nj", "o", "p",
                 "r", "s", "t", "ć", "u", "f", "h", "c", "č", "dž", "š"], strict=True))


def transliterate(text: str) -> str:
    """Serbian Cyrillic to Latin, letter by letter (Љ Њ Џ become LJ NJ DŽ inside a word in capitals)."""
    out = []
    for i, ch in enumerate(text):
        low = ch.lower()
        if low not in _CYR:
            out.append(ch)
            continue
        latin = _CYR[low]
        if ch != low:  # a capital
            nxt = text[i + 1] if i + 1 < len(text) else ""
            latin = latin.upper() if len(latin) > 1 and nxt.isupper() else latin[0].upper() + latin[1:]
        out.append(latin)
    return "".join(out)


def source() -> dict[str, str]:
    return source_texts(default_rulebook(), default_lifecycle())


def path_of(locale: str) -> Path:
    return i18n_dir() / f"{locale}.yaml"


def read(locale: str) -> dict[str, dict[str, str]]:
    p = path_of(locale)
    if not p.is_file():
        return {}
    data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    return dict(data.get("texts") or {})


def write(locale: str, texts: dict[str, dict[str, str]]) -> None:
    body = yaml.safe_dump({"locale": locale, "version": dt.date.today(), "texts": texts},
                          allow_unicode=True, sort_keys=False, width=100000)
    header = HEADER.format(name=NAMES[locale], locale=locale, note=NOTES.get(locale, ""))
    path_of(locale).write_text(header + body, encoding="utf-8")


def status(locales: list[str]) -> int:
    src, bad = source(), 0
    for loc in locales:
        have = read(loc)
        missing = [k for k in src if k not in have]
        stale = [k for k in src if k in have and have[k].get("en") != src[k]]
        unknown = [k for k in have if k not in src]
        bad += len(missing) + len(stale) + len(unknown)
        print(f"{loc}: {len(src) - len(missing) - len(stale)}/{len(src)} current; "
              f"{len(missing)} missing, {len(stale)} stale, {len(unknown)} unknown")
        for label, keys in (("missing", missing), ("stale", stale), ("unknown", unknown)):
            for k in keys:
                print(f"  {label}: {k}")
    return 1 if bad else 0


def memory_of(have: dict[str, dict[str, str]], src: dict[str, str]) -> dict[str, str]:
    """English -> translation, from the entries still current."""
    return {e["en"]: e["t"] for k, e in have.items() if k in src and e.get("en") == src[k] and e.get("t")}


def todo(locale: str) -> int:
    src = source()
    memory = memory_of(read(locale), src)
    pending = list(dict.fromkeys(en for en in src.values() if en not in memory))
    sys.stdout.write(yaml.safe_dump({en: "" for en in pending}, allow_unicode=True, sort_keys=False, width=100000))
    return 0


def fill(locale: str, memory_file: str | None) -> int:
    src, have = source(), read(locale)
    memory = memory_of(have, src)
    if memory_file:
        extra: dict[str, Any] = yaml.safe_load(Path(memory_file).read_text(encoding="utf-8")) or {}
        memory.update({en: t for en, t in extra.items() if isinstance(t, str) and t.strip()})
    out: dict[str, dict[str, str]] = {}
    left = 0
    for key, en in src.items():
        if key in have and have[key].get("en") == en:
            out[key] = {"en": en, "t": have[key]["t"]}
        elif en in memory:
            out[key] = {"en": en, "t": memory[en]}
        elif key in have:
            out[key], left = dict(have[key]), left + 1  # stale, kept for a translator to see
        else:
            left += 1
    write(locale, out)
    print(f"{locale}: {len(out)} entries written; {left} still to translate", file=sys.stderr)
    return 1 if left else 0


def translit() -> int:
    src, cyr = source(), read("sr-Cyrl")
    write("sr-Latn", {k: {"en": e["en"], "t": transliterate(e["t"])} for k, e in cyr.items() if k in src})
    return 0


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    command, args = argv[0], argv[1:]
    others = [loc for loc in LOCALES if loc != SOURCE_LOCALE]
    if command == "status":
        return status(args or others)
    if command == "todo" and len(args) == 1:
        return todo(args[0])
    if command == "fill" and 1 <= len(args) <= 2:
        return fill(args[0], args[1] if len(args) == 2 else None)
    if command == "translit" and not args:
        return translit()
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
