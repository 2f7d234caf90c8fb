"""The plain-words guard on a labelled set of real school sentences, and its speed.

Prints recall (jargon terms found out of those labelled), false alarms (plain sentences
with any finding, out of the plain ones), both for the whole set, the held-out part and
each kind of source, the terms missed and the plain sentences flagged, and the time the
guard takes on 300 words.

Run: python -m bench.plain
"""

from __future__ import annotations

import statistics
import sys
import time
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bot.language.plain import check_text, load_glossary

SET = Path(__file__).parent / "data" / "plain_sentences.toml"


@dataclass(frozen=True, slots=True)
class Sentence:
    """One labelled sentence: its text, the jargon it holds, its source, held out or not."""

    text: str
    jargon: tuple[str, ...]
    source: str
    held_out: bool


@dataclass
class Score:
    """Recall on jargon sentences and false alarms on plain ones."""

    terms: int = 0
    found: int = 0
    plain: int = 0
    alarms: int = 0
    missed: list[tuple[str, str]] = field(default_factory=list)
    flagged: list[tuple[str, list[str]]] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Labelled terms found, out of all labelled terms."""
        return self.found / self.terms if self.terms else 1.0

    @property
    def false_alarm_rate(self) -> float:
        """Plain sentences with any finding, out of all plain sentences."""
        return self.alarms / self.plain if self.plain else 0.0


def load_set(path: Path = SET) -> list[Sentence]:
    """The labelled sentences."""
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    return [Sentence(s["text"], tuple(s["jargon"]), s["source"], bool(s["held_out"]))
            for s in data["sentence"]]


def _overlaps(term: str, found: str) -> bool:
    a, b = term.casefold(), found.casefold()
    return a in b or b in a


def score(sentences: Iterable[Sentence]) -> Score:
    """Run the guard on each sentence and count."""
    result = Score()
    for sentence in sentences:
        hits = [hit.found for hit in check_text(sentence.text).jargon]
        if not sentence.jargon:
            result.plain += 1
            if hits:
                result.alarms += 1
                result.flagged.append((sentence.text, hits))
            continue
        for term in sentence.jargon:
            result.terms += 1
            if any(_overlaps(term, hit) for hit in hits):
                result.found += 1
            else:
                result.missed.append((term, sentence.text))
    return result


def _line(name: str, s: Score) -> str:
    return (f"{name:<24} recall {s.found}/{s.terms} = {s.recall:.2f}   "
            f"false alarms {s.alarms}/{s.plain} = {s.false_alarm_rate:.2f}")


def per_300_words(repeats: int = 50) -> float:
    """Median seconds for check_text on 300 words of mixed school writing."""
    words: list[str] = []
    for sentence in load_set():
        words += sentence.text.split()
    text = " ".join(words[:300])
    load_glossary()
    check_text(text)  # compiled and loaded once, as in a running process
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        check_text(text)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    sentences = load_set()
    print(f"labelled set: {len(sentences)} sentences "
          f"({sum(1 for s in sentences if not s.jargon)} plain), {SET.relative_to(Path.cwd())}"
          if SET.is_relative_to(Path.cwd()) else f"labelled set: {len(sentences)} sentences")
    print(f"glossary: {len(load_glossary().entries)} entries")
    everything = score(sentences)
    print(_line("all", everything))
    print(_line("held out", score(s for s in sentences if s.held_out)))
    print(_line("tuning part", score(s for s in sentences if not s.held_out)))
    for kind in ("guidance", "Ofsted", "IDEA", "504", "gov.uk", "newsletter"):
        part = [s for s in sentences if s.source.startswith(kind)]
        if part:
            print(_line(f"  source: {kind}", score(part)))
    for term, text in everything.missed:
        print(f"missed: {term!r} in {text!r}")
    for text, hits in everything.flagged:
        print(f"false alarm: {hits} in {text!r}")
    print(f"guard on 300 words: {per_300_words() * 1000:.1f} ms (median of 50)")


if __name__ == "__main__":
    main()
