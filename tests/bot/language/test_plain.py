"""The plain-language guard: jargon with plain alternatives, reading level, long sentences."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from bot.errors import ConfigurationError, InvalidInputError
from bot.language.plain import (
    ABBREVIATION_PLAIN,
    RARE_CATEGORY,
    RARE_PLAIN,
    SHIPPED_GLOSSARY,
    JargonNotConfirmedError,
    check_text,
    enforce,
    format_report,
    load_glossary,
    suggest_rewrite,
    syllables,
)

GOOD_NEWS = "Amelia read a whole book today. We are proud of her."
BUREAUCRATIC = (
    "Following the statutory consultation, the governing body has determined that the "
    "implementation of the revised attendance management framework will necessitate "
    "additional documentation from parents regarding any unauthorised or exceptional "
    "circumstances affecting regular attendance throughout the academic year."
)


def found(text: str, **kwargs: object) -> dict[str, str]:
    """Each jargon term reported for a text, mapped to how it was written."""
    return {hit.term: hit.found for hit in check_text(text, **kwargs).jargon}  # type: ignore[arg-type]


def test_letter_full_of_jargon_names_each_term_with_plain_words() -> None:
    letter = (
        "Dear Parent/Carer,\n"
        "The SENCO, the DSL and the LA will attend the annual review of the EHCP. "
        "We will discuss KS2 SATs, the phonics screening check, FSM and EAL support. "
        "The PEP for this LAC is due. CAMHS and early help are involved after the "
        "section 47 and the child protection conference. Please RSVP."
    )
    report = check_text(letter)
    hits = {hit.term: hit for hit in report.jargon}
    expected = {"SENCO", "DSL", "LA", "annual review", "EHCP", "KS2 SATs",
                "phonics screening check", "FSM", "EAL support", "PEP", "LAC", "CAMHS",
                "early help", "section 47", "child protection conference", "RSVP"}
    assert expected <= set(hits)
    assert hits["SENCO"].plain == "the teacher who organises extra help for children"
    assert hits["DSL"].plain == "the member of staff who keeps children safe"
    assert all(hit.plain and hit.category for hit in report.jargon)
    assert not report.ok


@pytest.mark.parametrize(("text", "term"), [
    ("Two interventions started this week.", "intervention"),
    ("Work will be differentiated for her.", "differentiation"),
    ("We had safeguarding concerns.", "safeguarding concern"),
    ("Safeguarding is everyone's job.", "safeguarding"),
    ("He was excluded on Monday.", "exclusion"),
    ("This is a second exclusion.", "exclusion"),
    ("Her pupil premium funding pays for it.", "pupil premium"),
    ("Her Pupil-Premium funding pays for it.", "pupil premium"),
    ("The education, health and care plan is ready.", "EHCP"),
    ("The education health & care plan is ready.", "EHCP"),
    ("Ask the special educational needs co-ordinator.", "SENCO"),
    ("Ask the special educational needs coordinator.", "SENCO"),
    ("Ask the SENDCo.", "SENCO"),
    ("Ask the senco.", "SENCO"),
    ("He is a looked after child.", "LAC"),
    ("She had a fixed term exclusion.", "fixed-term exclusion"),
    ("Both EHCPs were late.", "EHCP"),
    ("The child in need plan is ready.", "CIN"),
    ("The IEP meeting is on Tuesday.", "IEP meeting"),
])
def test_inflections_phrases_and_hyphen_variants_match(text: str, term: str) -> None:
    assert term in found(text)


def test_longest_phrase_wins() -> None:
    assert set(found("She gets SEN support.")) == {"SEN support"}
    assert set(found("A child protection conference is booked.")) == {
        "child protection conference"}


@pytest.mark.parametrize("text", [
    "La la land is on at the cinema.",
    "We went to the cinema and were happy.",
    "Here is the plan. We will review it next week.",
    "pp 3 to 5 of the book are missing.",
    "Children in Need day is on Friday: wear something spotty.",
    "Please send the form back. There was a lac of paint.",
    "Please bring provisions and a torch.",
    "She has ADHD and we watched TV after PE.",
    "We looked after the class rabbit over the holiday.",
    "Add salt to the soup. It was a great idea.",
    "Email office@SCHOOL.example or see https://example.org/SENCO/EHCP.",
])
def test_ordinary_words_are_not_flagged(text: str) -> None:
    assert found(text) == {}


def test_acronyms_that_are_words_follow_case() -> None:
    assert "LA" in found("The LA has agreed.")
    assert "CIN" in found("She is on a CIN plan.")
    assert "SEND" in found("Our SEND policy is online.")
    assert found("Please send it. The pep talk helped.") == {}


def test_unknown_capitals_flagged_as_abbreviation_allow_list_not() -> None:
    report = check_text("The XYZQ team met. The BBC filmed the PTA at 9 AM in the UK.")
    assert [(hit.term, hit.plain, hit.category) for hit in report.jargon] == [
        ("XYZQ", ABBREVIATION_PLAIN, "abbreviation")]
    assert found("We met the TRBs.") == {"TRB": "TRBs"}
    assert found("TOO LONG AND MUCH TOO LOUD") == {}  # shouting, not abbreviations
    assert set(found("PLEASE MEET THE DSL")) == set()
    assert set(found("Ask CAMHS, DSL, LA or ABCD.")) == {"CAMHS", "DSL", "LA", "ABCD"}
    assert found("Hello TOO") == {"TOO": "TOO"}


def test_findings_are_in_order_and_counted_once() -> None:
    report = check_text("The QRST and the EHCP. The EHCP again, and the DSL.")
    assert [hit.term for hit in report.jargon] == ["QRST", "EHCP", "DSL"]
    assert report.jargon[1].count == 2


def test_school_glossary_extends_and_overrides(tmp_path: Path) -> None:
    school = tmp_path / "glossary.toml"
    school.write_text(
        'allow = ["DSL", "KLMN"]\n'
        "[school]\n"
        '"Learning Hub" = "the quiet room where children get extra help"\n'
        'SENCO = { plain = "Mrs Patel, who organises extra help", also = ["SENDCo"] }\n'
        'OWL = { plain = "our reading scheme", case = "any" }\n',
        encoding="utf-8")
    report = check_text("The SENCO and DSL meet in the learning hubs. KLMN. Owl time.",
                        extra_glossary=school)
    hits = {hit.term: hit for hit in report.jargon}
    assert set(hits) == {"SENCO", "Learning Hub", "OWL"}
    assert hits["SENCO"].plain == "Mrs Patel, who organises extra help"
    assert hits["Learning Hub"].found == "learning hubs"
    assert hits["Learning Hub"].category == "school"
    # The shipped term's other spellings now carry the school's plain words.
    [hit] = check_text("Ask the special educational needs coordinator.",
                       extra_glossary=school).jargon
    assert (hit.term, hit.plain) == ("SENCO", "Mrs Patel, who organises extra help")
    assert "DSL" in found("The DSL will call.")  # the school file does not leak


def test_school_glossary_mistakes_name_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[school]\nHub = { plain = "" }\n', encoding="utf-8")
    with pytest.raises(ConfigurationError, match=r"bad\.toml.*Hub.*plain words"):
        check_text("hi", extra_glossary=bad)
    bad.write_text("[school\n", encoding="utf-8")
    with pytest.raises(ConfigurationError, match="not valid TOML"):
        check_text("hello", extra_glossary=bad)
    with pytest.raises(ConfigurationError, match="cannot read"):
        check_text("hi", extra_glossary=tmp_path / "missing.toml")


def test_good_news_note_is_ok() -> None:
    report = check_text(GOOD_NEWS)
    assert report.ok
    assert report.reading_age is not None and report.reading_age <= 9
    assert report.jargon == [] and report.long_sentences == []


def test_long_bureaucratic_sentence_is_long_and_too_hard() -> None:
    report = check_text(BUREAUCRATIC)
    assert report.too_hard and not report.ok
    assert report.reading_age is not None and report.reading_age > 9
    [long] = report.long_sentences
    assert long.words == 37 and long.sentence.startswith("Following the statutory")
    assert check_text(BUREAUCRATIC, max_reading_age=40, max_sentence_words=40).jargon
    assert not check_text(BUREAUCRATIC, max_reading_age=40, max_sentence_words=40).too_hard


def test_sentence_limit_and_splitting() -> None:
    text = ("Dear Mrs Khan,\nMr. Jones said Ella did well. "
            + " ".join(["word"] * 21) + ".\n- bring a coat\n- bring lunch")
    report = check_text(text, max_sentence_words=20)
    assert [s.words for s in report.long_sentences] == [21]
    assert report.sentences == 5
    assert check_text(text, max_sentence_words=21).long_sentences == []


def test_other_languages_skip_jargon_and_reading_level() -> None:
    report = check_text("El SENCO y el DSL hablarán con usted mañana.", language="es")
    assert report.jargon == [] and report.grade is None and report.reading_age is None
    assert not report.too_hard and report.ok
    assert check_text(GOOD_NEWS, language="en-GB").grade is not None


def test_as_dict_is_json_ready() -> None:
    data = check_text("The SENCO will call. " + BUREAUCRATIC).as_dict()
    assert json.loads(json.dumps(data)) == data
    assert {"jargon", "grade", "reading_ease", "reading_age", "long_sentences",
            "too_hard", "ok"} <= set(data)
    assert data["jargon"][0] == {
        "term": "SENCO", "plain": "the teacher who organises extra help for children",
        "found": "SENCO", "category": "special_needs", "count": 1}
    assert data["long_sentences"][0]["words"] == 37
    assert data["ok"] is False and data["too_hard"] is True


def test_block_mode_raises_naming_terms_and_warn_does_not() -> None:
    report = check_text("The SENCO and the DSL will call.")
    enforce(report, "warn")
    with pytest.raises(InvalidInputError) as caught:
        enforce(report, "block")
    message = str(caught.value)
    assert '"SENCO" (say "the teacher who organises extra help for children")' in message
    assert "DSL" in message and "keeps children safe" in message


def test_block_mode_lets_hard_text_through() -> None:
    report = check_text(BUREAUCRATIC.replace("statutory ", "").replace("governing body",
                                                                         "school"))
    assert report.too_hard and not report.jargon
    enforce(report, "block")
    with pytest.raises(ConfigurationError):
        enforce(report, "shout")  # type: ignore[arg-type]


def test_format_report_one_line_per_finding() -> None:
    lines = format_report(check_text("The SENCO will call. " + BUREAUCRATIC)).splitlines()
    assert lines[0] == 'jargon: "SENCO" -> say "the teacher who organises extra help for children"'
    assert any(line.startswith('long sentence (37 words): "Following') for line in lines)
    assert lines[-1].startswith("reading age ") and lines[-1].endswith(": aim for 9 or below")
    good = format_report(check_text(GOOD_NEWS)).splitlines()
    assert good[-1] == "ok: plain words" and good[0].endswith(": fine")


def test_syllable_heuristic_on_common_words() -> None:
    counts = {w: syllables(w) for w in
              ["a", "read", "whole", "today", "table", "wanted", "makes", "education",
               "social", "Amelia", "2024"]}
    assert counts == {"a": 1, "read": 1, "whole": 1, "today": 2, "table": 2, "wanted": 2,
                      "makes": 1, "education": 4, "social": 2, "Amelia": 4, "2024": 1}


def test_shipped_glossary_is_complete_and_its_plain_words_are_plain() -> None:
    data = tomllib.loads(SHIPPED_GLOSSARY.read_text(encoding="utf-8"))
    assert set(data) >= {"allow", "education", "special_needs", "social_care", "legal",
                         "school_process"}
    glossary = load_glossary()
    assert len(glossary.entries) >= 200
    for entry in glossary.entries:
        assert entry.plain.strip(), entry.term
        hits = glossary.find(entry.plain)
        assert not hits, f"{entry.term}: plain words use {[h.found for h in hits]}"
    forms = {form.upper() for entry in glossary.entries for form in entry.forms}
    assert not glossary.allow & forms


def test_three_hundred_words_use_the_compiled_glossary() -> None:
    text = " ".join([GOOD_NEWS, "The SENCO called about the EHCP."] * 20)
    assert len(text.split()) >= 300
    assert load_glossary() is load_glossary()  # compiled once, cached
    report = check_text(text)
    assert {hit.term: hit.count for hit in report.jargon} == {"SENCO": 20, "EHCP": 20}


# -- issue 16 item 4: rare words, abbreviations, policy, rewrite, the labelled set ---------
def test_recall_and_false_alarms_on_held_out_real_school_sentences() -> None:
    from bench.plain import load_set, score

    held_out = [s for s in load_set() if s.held_out]
    result = score(held_out)
    assert result.terms >= 30 and result.plain >= 20
    assert result.recall >= 0.9, result.missed
    assert result.false_alarm_rate <= 0.1, result.flagged


def test_the_shipped_glossary_has_a_thousand_terms_each_with_plain_words() -> None:
    glossary = load_glossary()
    assert len(glossary.entries) >= 1000
    assert all(entry.plain.strip() for entry in glossary.entries)


def test_rare_professional_words_are_caught_by_their_frequency() -> None:
    hits = {hit.term: hit for hit in check_text(
        "We will look at alexithymia and proprioceptive needs.").jargon}
    assert hits["alexithymia"].category == RARE_CATEGORY
    assert hits["alexithymia"].plain == RARE_PLAIN
    assert hits["proprioception"].found == "proprioceptive"  # a form the glossary lists
    assert found("Please bring wellies and a sun hat, and some sellotape.") == {}
    assert found("She used a protractor, did a cartwheel and made papier-mache masks.") == {}


def test_roster_names_are_not_jargon() -> None:
    text = "Zuza and ZUZA met the kacperski twins."
    assert set(found(text)) == {"ZUZA", "kacperski"}
    assert found(text, names=["Zuza Kacperski"]) == {}


def test_system_words_families_text_back_are_allowed() -> None:
    assert found("Reply STOP to stop these messages, START to start again or HELP.") == {}
    assert "XQZ" in found("Reply XQZ to stop.")


def test_a_line_break_ends_a_sentence() -> None:
    report = check_text("Dear families\nThe trip is on Friday\nPlease bring a coat")
    assert report.sentences == 3


def test_confirm_mode_asks_the_author_and_block_refuses() -> None:
    report = check_text("The SENCO will call.")
    enforce(report, "warn")
    with pytest.raises(JargonNotConfirmedError, match=r"SENCO.*confirm"):
        enforce(report, "confirm")
    enforce(report, "confirm", confirmed=True)
    with pytest.raises(InvalidInputError, match="Say it plainly"):
        enforce(report, "block", confirmed=True)
    enforce(check_text("We had a lovely day."), "block")


def test_suggest_rewrite_puts_in_the_plain_words() -> None:
    text = "The SENCO will look at the EHCP.\nPupil premium pays for it. Ask the XQZ."
    new, changes = suggest_rewrite(text)
    assert new == ("The teacher who organises extra help for children will look at the legal "
                   "plan from the council that sets out the help your child must get.\n"
                   "Extra money the school gets to help some children pays for it. "
                   "Ask the XQZ.")
    assert [(c.found, text[c.start:c.end]) for c in changes] == [
        ("SENCO", "SENCO"), ("EHCP", "EHCP"), ("Pupil premium", "Pupil premium")]
    assert [h.term for h in check_text(new).jargon] == ["XQZ"]  # no plain words to put in
    assert suggest_rewrite("We had a lovely day.") == ("We had a lovely day.", [])


def test_school_policy_sets_what_jargon_does() -> None:
    from scheduler.policy import PolicyError, parse_policy

    assert parse_policy({}).jargon == "warn"
    assert parse_policy({"jargon": "confirm"}).jargon == "confirm"
    assert parse_policy({"jargon": "Block"}).jargon == "block"
    with pytest.raises(PolicyError, match="jargon must be warn, confirm or block"):
        parse_policy({"jargon": "shout"})
