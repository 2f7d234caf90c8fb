"""The queue commands count SMS segments after rendering, in each family's language
(issue 15: the warning was computed before a translated text existed, so only English
was ever counted)."""

from __future__ import annotations

import json
from pathlib import Path

from tests.bot.cli.test_cli import ROOT, run

NOTE = ("Zofia read a whole chapter aloud to the class today and helped a friend with the "
        "hard words. She was patient and kind, and we are all very proud of her.")


def test_good_news_counts_the_polish_sms_as_the_family_receives_it(tmp_path: Path) -> None:
    assert run("import-roster", str(ROOT / "examples" / "roster.csv"), cwd=tmp_path) \
        .returncode == 0
    result = run("good-news", "--student", "S001", "--from", "a.shah@riverside-primary.example.org",
                 "--json", NOTE, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    # the Polish rows wait for translation, and are counted all the same
    assert {d["language"] for d in summary["deliveries"] if d["channel"] == "sms"} == {"pl"}
    assert 1 <= summary["sms_segments"]["pl"] <= 3
    assert summary["long_sms_languages"] == []
    shown = run("good-news", "--student", "S001", "--from",
                "a.shah@riverside-primary.example.org", NOTE, cwd=tmp_path)
    assert f"SMS segments by language: pl {summary['sms_segments']['pl']}" in shown.stdout
