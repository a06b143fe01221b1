"""The official document says the route in its languages, as the verdict's route says which channel of the
rule data it takes (rules/verdict.py Route: channel_index, urgent_means, mla_treaty) and which text its
notifications carry (message_key); a verdict stored before routes said so shows the engine's English,
marked as English. The sheet is built in process (no PDF: tests/documents/test_render.py renders)."""

from __future__ import annotations

from typing import Any

import pytest

from evidex.cases.service import json_safe
from evidex.documents.i18n import Languages
from evidex.documents.sheet import build_sheet
from evidex.rules import check
from tests.conftest import load_example
from tests.documents.conftest import AS_OF, NOW

NEW_FIELDS = ("channel_index", "urgent_means", "mla_treaty")


def sheet_and_verdict(law, name: str, langs: list[str], *, old: bool = False, **changes: Any):
    data = json_safe({**load_example(name), **changes})
    verdict = check(data, law.parties, AS_OF, rulebook=law.rulebook).to_json_dict()
    if old:  # as stored before routes said their channel and their notifications' key
        verdict["route"] = {k: v for k, v in verdict["route"].items() if k not in NEW_FIELDS}
        verdict["route"]["notifications"] = [{k: v for k, v in n.items() if k != "message_key"}
                                             for n in verdict["route"]["notifications"]]
    return build_sheet(law, data, verdict, Languages(langs), now=NOW), verdict


@pytest.mark.parametrize("lang", ["sr-Cyrl", "fr"])
def test_an_urgent_channel_is_said_in_the_documents_language(law, lang) -> None:
    sheet, verdict = sheet_and_verdict(law, "mutual_assistance", [lang], urgent=True, requested_party="SI")
    route, t = verdict["route"], "mutual_assistance"
    assert route["urgent_means"] and route["channel_index"] is not None
    expected = (f"{law.texts.channel_text(t, route['channel_index'], lang)}; ETS185 Art 25(3): "
                f"{law.texts.text(f'type.{t}.urgent_means', lang)}")
    assert sheet.channel.parts == ((lang, expected),)


def test_the_route_of_an_mla_treaty_is_said_in_both_languages_of_a_bilingual_document(law) -> None:
    sheet, verdict = sheet_and_verdict(law, "mutual_assistance", ["sl", "en"], requested_party="ME")
    assert verdict["route"]["mla_treaty"] and verdict["route"]["channel"].endswith("between RS and ME")
    (sl, sl_text), (en, en_text) = sheet.channel.parts
    assert (sl, en) == ("sl", "en") and en_text == verdict["route"]["channel"]
    assert sl_text == law.texts.text("type.mutual_assistance.mla_treaty.channel", "sl").format(
        requesting="RS", requested="ME")


def test_the_simultaneous_notification_says_what_to_send_in_the_documents_language(law) -> None:
    sheet, verdict = sheet_and_verdict(law, "subscriber_order", ["sr-Latn"])
    (note,) = verdict["route"]["notifications"]
    (notice,) = sheet.notices
    assert notice.what.parts == (("sr-Latn", law.texts.text(note["message_key"], "sr-Latn")),)
    assert notice.what.first != note["message"]


def test_a_verdict_stored_before_shows_its_english_marked_as_english(law) -> None:
    sheet, verdict = sheet_and_verdict(law, "subscriber_order", ["fr"], old=True, urgent=True)
    assert sheet.channel.parts == (("en", verdict["route"]["channel"]),)
    (notice,) = sheet.notices
    assert notice.what.parts == (("en", verdict["route"]["notifications"][0]["message"]),)
