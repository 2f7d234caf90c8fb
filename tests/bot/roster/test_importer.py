"""Roster CSV import: bad rows are named and left out, good rows land, re-import is a no-op."""

from __future__ import annotations

import csv
import tracemalloc
from pathlib import Path

import pytest
from sqlalchemy import func, select, text

from bot.errors import InvalidInputError
from bot.roster import importer as importer_module
from bot.roster.importer import (
    BATCH_ROWS,
    REQUIRED_COLUMNS,
    ImportReport,
    import_roster,
    normalise_language,
    normalise_phone,
)
from bot.runtime.context import Context
from bot.store.models import (
    AuditEntry,
    Guardian,
    GuardianChannel,
    School,
    Staff,
    Student,
    StudentGuardian,
)

REPO = Path(__file__).resolve().parents[3]
EXAMPLE = REPO / "bot" / "data" / "roster.csv"
ROSTER_TABLES = (Staff, Student, Guardian, GuardianChannel, StudentGuardian, AuditEntry)


def _row(n: int = 1, **overrides: str) -> dict[str, str]:
    values = {
        "student_id": f"S{n}", "student_first_name": f"Child{n}", "student_last_name": "Doe",
        "class": "3B", "key_worker_name": "Ms Shah",
        "key_worker_email": "a.shah@school.example.org", "guardian_id": f"G{n}",
        "guardian_first_name": f"Parent{n}", "guardian_last_name": "Doe",
        "relationship": "mother", "language": "pl", "phone": f"07700 900{n:03d}",
        "email": f"parent{n}@example.com", "preferred_channels": "sms;email",
        "may_contact": "yes",
    }
    values.update(overrides)
    return values


def _write(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = REQUIRED_COLUMNS,
           ) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return path


def _school_id(ctx: Context) -> int:
    with ctx.factory() as s, s.begin():
        return ctx.school(s).id


def _import(ctx: Context, path: Path, **kw: object) -> ImportReport:
    return import_roster(ctx.factory, _school_id(ctx), path, "GB", **kw)  # type: ignore[arg-type]


def _counts(ctx: Context) -> dict[str, int]:
    with ctx.factory() as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
                for m in ROSTER_TABLES}


def _guardian(ctx: Context, ref: str) -> Guardian | None:
    with ctx.factory() as s:
        return s.scalar(select(Guardian).where(Guardian.ref == ref))


def _errors(report: ImportReport) -> list[tuple[int, str]]:
    return [(e.row, e.column) for e in report.errors]


# -- the example roster ----------------------------------------------------------------
def test_example_roster_imports_with_no_errors(ctx: Context) -> None:
    report = _import(ctx, EXAMPLE)
    assert report.errors == [] and report.warnings == []
    assert (report.created_students, report.created_guardians, report.created_staff) \
        == (12, 15, 3)
    assert report.rows_total == 16 and report.unchanged_rows == 0
    with ctx.factory() as s:
        school = s.scalars(select(School)).one()
        assert len(school.languages) >= 6
        assert {"pl", "ur", "ar", "es", "ro", "so", "bn", "pt_BR"} <= set(school.languages)
        staff = s.scalars(select(Staff).order_by(Staff.name)).all()
        assert [(m.name, m.role) for m in staff] == [
            ("Mr Doyle", "teacher"), ("Mrs Adeyemi", "teacher"), ("Ms Shah", "teacher")]
        not_to_contact = s.scalars(select(StudentGuardian).where(
            StudentGuardian.may_contact.is_(False))).all()
        assert len(not_to_contact) == 1
    email_only = _guardian(ctx, "G006")
    assert email_only is not None and email_only.phone is None and email_only.email
    telegram = _guardian(ctx, "G004")
    assert telegram is not None and telegram.channel_order == ["telegram", "sms"]


def test_examples_folder_links_to_the_packaged_roster() -> None:
    link = REPO / "examples" / "roster.csv"
    assert link.is_symlink() and link.resolve() == EXAMPLE.resolve()


def test_guardian_of_two_children_is_linked_to_both(ctx: Context) -> None:
    report = _import(ctx, EXAMPLE)
    assert report.updated_guardians == 0  # linking a second child is not an "update"
    with ctx.factory() as s:
        refs = s.scalars(select(Student.ref).join(StudentGuardian).join(Guardian)
                         .where(Guardian.ref == "G008").order_by(Student.ref)).all()
        assert refs == ["S006", "S007"]
        assert s.scalar(select(func.count()).where(Guardian.ref == "G008")) == 1


# -- bad rows --------------------------------------------------------------------------
def test_bad_rows_are_named_and_nothing_of_them_is_written(ctx: Context,
                                                           tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [
        _row(1),
        _row(2, phone="07700 9001"),
        _row(3, email="parent3.example.com"),
        _row(4, language="klingon"),
        _row(5, key_worker_name="", key_worker_email="",
             student_id="S5", guardian_id="G5"),
        _row(6),
    ])
    report = _import(ctx, path)
    assert _errors(report) == [(3, "phone"), (4, "email"), (5, "language"),
                               (6, "key_worker_name"), (6, "key_worker_email")]
    assert all(e.reason for e in report.errors)
    assert "phone number" in report.errors[0].reason
    assert "@" in report.errors[1].reason
    assert "klingon" in report.errors[2].reason
    assert "key worker" in report.errors[3].reason
    assert report.rows_failed == 4 and report.created_students == 2
    with ctx.factory() as s:
        assert s.scalars(select(Student.ref).order_by(Student.ref)).all() == ["S1", "S6"]
        assert s.scalars(select(Guardian.ref).order_by(Guardian.ref)).all() == ["G1", "G6"]
        assert s.scalar(select(func.count()).select_from(Staff)) == 1


def test_row_numbers_count_blank_rows_like_a_spreadsheet(ctx: Context,
                                                         tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [_row(1)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write("\n")  # row 3 is empty
        csv.writer(fh).writerow([_row(2, may_contact="maybe")[c] for c in REQUIRED_COLUMNS])
    report = _import(ctx, path)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (4, "may_contact", "must be yes or no")]
    assert report.rows_total == 2


@pytest.mark.parametrize(("overrides", "column"), [
    ({"preferred_channels": "sms;whatsapp"}, "preferred_channels"),
    ({"preferred_channels": ""}, "preferred_channels"),
    ({"student_id": ""}, "student_id"),
    ({"guardian_first_name": ""}, "guardian_first_name"),
    ({"student_first_name": "x" * 101}, "student_first_name"),
    ({"key_worker_email": "shah@"}, "key_worker_email"),
])
def test_other_bad_values_are_named(sqlite_ctx: Context, tmp_path: Path,
                                    overrides: dict[str, str], column: str) -> None:
    report = _import(sqlite_ctx, _write(tmp_path / "r.csv", [_row(1, **overrides)]))
    assert _errors(report) == [(2, column)]
    assert _counts(sqlite_ctx)["students"] == 0


def test_a_later_row_contradicting_an_earlier_one_is_refused(ctx: Context,
                                                             tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [
        _row(1), _row(2, student_id="S1", student_first_name="Child1", **{"class": "4C"})])
    report = _import(ctx, path)
    assert len(report.errors) == 1
    error = report.errors[0]
    assert (error.row, error.column) == (3, "class") and "row 2" in error.reason
    assert _guardian(ctx, "G2") is None  # the refused row left nothing behind


def test_unreachable_guardian_is_imported_with_a_warning(ctx: Context, tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [
        _row(1, phone="", email="", preferred_channels="telegram"),
        _row(2, phone="", email="", preferred_channels="", may_contact="no"),
    ])
    report = _import(ctx, path)
    assert report.errors == []
    assert [(w.row, w.reason) for w in report.warnings] == [
        (2, "cannot be reached: no phone or email")]
    assert _guardian(ctx, "G1") is not None and _guardian(ctx, "G2") is not None


def test_row_the_database_refuses_rolls_back_alone(ctx: Context, tmp_path: Path) -> None:
    rows = [_row(n) for n in range(1, 8)]
    rows[3] = _row(4, guardian_id="G-REFUSED")
    path = _write(tmp_path / "roster.csv", rows)
    with _Refuse(ctx, "G-REFUSED"):
        report = _import(ctx, path)
    assert [(e.row, e.column) for e in report.errors] == [(5, "(row)")]
    assert report.created_students == 6 and report.created_guardians == 6
    with ctx.factory() as s:
        assert "S4" not in s.scalars(select(Student.ref)).all()  # its student went too
        assert s.scalar(select(func.count()).select_from(StudentGuardian)) == 6


class _Refuse:
    """A database trigger that refuses one guardian, as a real constraint would."""

    def __init__(self, ctx: Context, ref: str) -> None:
        self.engine, self.ref = ctx.engine, ref

    def __enter__(self) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.execute(text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON guardians "
                    f"WHEN NEW.ref = '{self.ref}' BEGIN SELECT RAISE(ABORT, 'refused'); END"))
            else:
                conn.execute(text(
                    "CREATE FUNCTION refuse() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.ref = '{self.ref}' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$ LANGUAGE plpgsql"))
                conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON guardians "
                                  "FOR EACH ROW EXECUTE FUNCTION refuse()"))

    def __exit__(self, *exc: object) -> None:
        with self.engine.begin() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.execute(text("DROP TRIGGER refuse"))
            else:
                conn.execute(text("DROP TRIGGER refuse ON guardians"))
                conn.execute(text("DROP FUNCTION refuse()"))


# -- the file as a whole ---------------------------------------------------------------
def test_missing_columns_fail_the_whole_file_naming_them(ctx: Context, tmp_path: Path) -> None:
    columns = tuple(c for c in REQUIRED_COLUMNS if c not in ("phone", "may_contact"))
    path = _write(tmp_path / "roster.csv", [_row(1)], columns=columns)
    with pytest.raises(InvalidInputError, match="phone, may_contact"):
        _import(ctx, path)
    assert _counts(ctx)["students"] == 0


def test_bom_whitespace_and_header_case_are_tolerated(ctx: Context, tmp_path: Path) -> None:
    header = ",".join(f" {c.upper().replace('_', ' ')} " for c in REQUIRED_COLUMNS)
    values = ",".join(f"  {_row(1)[c]}  " for c in REQUIRED_COLUMNS)
    path = tmp_path / "roster.csv"
    path.write_bytes(("\ufeff" + header + "\r\n" + values + "\r\n").encode("utf-8"))
    report = _import(ctx, path)
    assert report.errors == [] and report.created_guardians == 1
    guardian = _guardian(ctx, "G1")
    assert guardian is not None and guardian.first_name == "Parent1"


def test_file_that_is_not_utf8_is_refused_with_advice(sqlite_ctx: Context,
                                                      tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_bytes(",".join(REQUIRED_COLUMNS).encode() + b"\nS1,Zo\xe9\n")
    with pytest.raises(InvalidInputError, match="UTF-8"):
        _import(sqlite_ctx, path)


# -- re-import -------------------------------------------------------------------------
def test_importing_the_same_file_twice_changes_nothing(ctx: Context) -> None:
    _import(ctx, EXAMPLE)
    before = _counts(ctx)
    report = _import(ctx, EXAMPLE)
    assert (report.created_students, report.updated_students, report.created_guardians,
            report.updated_guardians, report.created_staff) == (0, 0, 0, 0, 0)
    assert report.unchanged_rows == report.rows_total == 16
    assert _counts(ctx) == before


def test_changed_fields_are_updated_on_re_import(ctx: Context, tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [_row(1), _row(2)])
    _import(ctx, path)
    _write(path, [_row(1, phone="07700 900555", preferred_channels="email", **{"class": "4C"}),
                  _row(2)])
    report = _import(ctx, path)
    assert (report.updated_students, report.updated_guardians, report.unchanged_rows) \
        == (1, 1, 1)
    with ctx.factory() as s:
        guardian = s.scalars(select(Guardian).where(Guardian.ref == "G1")).one()
        assert guardian.phone == "+447700900555" and guardian.channel_order == ["email"]
        consent = {c.channel: c.consent for c in guardian.channels}
        assert consent == {"sms": False, "email": True}  # taken off the list: switched off
        assert s.scalars(select(Student.class_name).where(Student.ref == "S1")).one() == "4C"


def test_key_worker_is_matched_by_email_and_created_once(ctx: Context, tmp_path: Path) -> None:
    path = _write(tmp_path / "roster.csv", [
        _row(1), _row(2, key_worker_name="Ms A Shah",
                      key_worker_email="A.Shah@School.example.org"),
        _row(3, key_worker_name="Mr Doyle", key_worker_email="c.doyle@school.example.org")])
    report = _import(ctx, path)
    assert report.errors == [] and report.created_staff == 2
    with ctx.factory() as s:
        keyed = dict(s.execute(select(Student.ref, Staff.email).join(Student.key_worker)).all())
        assert keyed["S1"] == keyed["S2"] == "a.shah@school.example.org"


def test_large_file_crosses_batches_and_reports_progress(sqlite_ctx: Context,
                                                         tmp_path: Path) -> None:
    total = BATCH_ROWS * 3 + 7
    rows = [_row(n, phone=f"07700 900{n % 1000:03d}") for n in range(1, total + 1)]
    rows[150] = _row(151, email="not-an-email")
    seen: list[tuple[int, int]] = []
    report = _import(sqlite_ctx, _write(tmp_path / "big.csv", rows),
                     progress=lambda done, of: seen.append((done, of)))
    assert _errors(report) == [(152, "email")]
    assert report.created_guardians == total - 1
    assert seen[-1] == (total, total) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    again = _import(sqlite_ctx, _write(tmp_path / "big.csv", rows))
    assert again.unchanged_rows == total - 1


# -- values ----------------------------------------------------------------------------
def test_phone_number_is_stored_in_e164(ctx: Context, tmp_path: Path) -> None:
    _import(ctx, _write(tmp_path / "roster.csv", [_row(1, phone="07700 900123")]))
    guardian = _guardian(ctx, "G1")
    assert guardian is not None and guardian.phone == "+447700900123"


@pytest.mark.parametrize(("raw", "expected"), [
    ("07700 900123", "+447700900123"), ("+44 7700 900123", "+447700900123"),
    ("(020) 7946 0000", "+442079460000"), ("+1 650 253 0000", "+16502530000"),
])
def test_normalise_phone(raw: str, expected: str) -> None:
    assert normalise_phone(raw, "GB") == expected


@pytest.mark.parametrize("raw", ["07700 9001", "call me", "07700 900123 4567"])
def test_normalise_phone_refuses_non_numbers(raw: str) -> None:
    with pytest.raises(ValueError, match=r"\w"):
        normalise_phone(raw, "GB")


@pytest.mark.parametrize(("raw", "expected"), [
    ("pl", "pl"), ("PT-br", "pt_BR"), ("zh_Hans", "zh_Hans"), ("Polish", "pl"), ("so", "so"),
])
def test_normalise_language(raw: str, expected: str) -> None:
    assert normalise_language(raw) == expected


@pytest.mark.parametrize("raw", ["xx", "klingon", "und", "en_XX"])
def test_normalise_language_refuses_unknown(raw: str) -> None:
    with pytest.raises(ValueError, match="not a language"):
        normalise_language(raw)


def test_school_languages_gain_every_language_seen(ctx: Context, tmp_path: Path) -> None:
    _import(ctx, _write(tmp_path / "roster.csv", [_row(1, language="ur"),
                                                  _row(2, language="pt-br")]))
    with ctx.factory() as s:
        assert s.scalars(select(School)).one().languages == ["pt_BR", "ur"]


# -- control characters (issue 14, findings 3 and 14) ----------------------------------
def test_header_injection_through_a_name_is_refused_and_the_rest_imports(
        ctx: Context, tmp_path: Path) -> None:
    injected = "Amy\r\nBcc: victim@evil.example\r\nX-Injected: 1"
    path = _write(tmp_path / "roster.csv", [_row(1), _row(2, student_first_name=injected),
                                            _row(3)])
    report = _import(ctx, path)
    assert [(e.row, e.column) for e in report.errors] == [(3, "student_first_name")]
    assert report.errors[0].reason.startswith("contains a line break or control character")
    assert report.created_students == 2
    with ctx.factory() as s:
        assert s.scalars(select(Student.ref).order_by(Student.ref)).all() == ["S1", "S3"]
        assert s.scalars(select(Guardian.ref).order_by(Guardian.ref)).all() == ["G1", "G3"]


@pytest.mark.parametrize("column", [
    "student_id", "student_first_name", "student_last_name", "class", "key_worker_name",
    "key_worker_email", "guardian_id", "guardian_first_name", "guardian_last_name",
    "relationship", "language", "phone", "email", "preferred_channels", "may_contact"])
@pytest.mark.parametrize("char", ["\n", "\r", "\x00", "\x1b", "\t", "\x85", "\u2028"])
def test_every_read_column_refuses_control_characters(
        sqlite_ctx: Context, tmp_path: Path, column: str, char: str) -> None:
    value = _row(1)[column]
    path = _write(tmp_path / "r.csv", [_row(1, **{column: value[:1] + char + value[1:]}),
                                       _row(2)])
    report = _import(sqlite_ctx, path)
    assert [(e.row, e.column) for e in report.errors] == [(2, column)]
    assert "line break or control character" in report.errors[0].reason
    assert report.created_guardians == 1


def test_nul_byte_is_refused_with_the_same_clear_reason_on_every_database(
        ctx: Context, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    _write(path, [_row(1), _row(2, guardian_last_name="Do\x00e"), _row(3)])
    report = _import(ctx, path)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (3, "guardian_last_name",
         "contains a line break or control character (a NUL byte, U+0000); retype the value")]
    assert report.created_guardians == 2 and _guardian(ctx, "G2") is None


def test_a_multi_line_cell_in_a_column_we_do_not_read_is_ignored(
        sqlite_ctx: Context, tmp_path: Path) -> None:
    columns = (*REQUIRED_COLUMNS, "notes")
    path = _write(tmp_path / "r.csv", [{**_row(1), "notes": "allergic to nuts\nasks for"}],
                  columns=columns)
    report = _import(sqlite_ctx, path)
    assert report.errors == [] and report.created_guardians == 1


def test_spaces_and_line_ends_around_a_value_are_trimmed_not_refused(
        sqlite_ctx: Context, tmp_path: Path) -> None:
    path = _write(tmp_path / "r.csv", [_row(1, guardian_first_name="Parent1\r\n")])
    report = _import(sqlite_ctx, path)
    assert report.errors == []
    guardian = _guardian(sqlite_ctx, "G1")
    assert guardian is not None and guardian.first_name == "Parent1"


# -- big files (issue 14, finding 16) --------------------------------------------------
@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> int:
    """Chunks of 20 rows, so a few dozen rows cross several transactions."""
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 20)
    monkeypatch.setattr(importer_module, "BATCH_ROWS", 10)
    return 20


def test_memory_does_not_grow_with_the_file(sqlite_ctx: Context, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(importer_module, "CHUNK_ROWS", 100)
    monkeypatch.setattr(importer_module, "BATCH_ROWS", 50)
    peaks = []
    for first, count in ((1, 300), (1001, 3000)):
        # one phone and email for all, so the checks' bounded caches stay out of it
        path = _write(tmp_path / f"r{count}.csv", [
            _row(n, phone="07700 900001", email="family@example.com")
            for n in range(first, first + count)])
        tracemalloc.start()
        try:
            report = _import(sqlite_ctx, path)
            peaks.append(tracemalloc.get_traced_memory()[1])
        finally:
            tracemalloc.stop()
        assert report.errors == [] and report.created_guardians == count
    # ten times the rows, about the same memory (it used to grow with every row)
    assert peaks[1] < 1.25 * peaks[0], peaks


def test_a_row_contradicting_one_many_chunks_earlier_is_refused(
        ctx: Context, tmp_path: Path, small_chunks: int) -> None:
    rows = [_row(n) for n in range(1, 3 * small_chunks + 1)]
    rows.append(_row(999, guardian_id="G1", guardian_first_name="Parent1",
                     phone="07700 900555"))  # G1 again, another phone, 60 rows later
    report = _import(ctx, _write(tmp_path / "r.csv", rows))
    assert [(e.row, e.column) for e in report.errors] == [(len(rows) + 1, "phone")]
    assert "row 2" in report.errors[0].reason
    guardian = _guardian(ctx, "G1")
    assert guardian is not None and guardian.phone == "+447700900001"
    assert _counts(ctx)["students"] == 3 * small_chunks  # S999 left nothing behind


def test_a_parent_of_children_in_different_chunks_is_one_guardian_linked_to_both(
        ctx: Context, tmp_path: Path, small_chunks: int) -> None:
    rows = [_row(n) for n in range(1, 2 * small_chunks + 1)]
    rows.append(_row(500, guardian_id="G1", guardian_first_name="Parent1",
                     phone="07700 900001", email="parent1@example.com"))
    path = _write(tmp_path / "r.csv", rows)
    report = _import(ctx, path)
    assert report.errors == [] and report.updated_guardians == 0
    with ctx.factory() as s:
        assert s.scalars(select(Student.ref).join(StudentGuardian).join(Guardian)
                         .where(Guardian.ref == "G1").order_by(Student.ref)).all() \
            == ["S1", "S500"]
    again = _import(ctx, path)
    assert again.unchanged_rows == again.rows_total == len(rows)


def test_a_file_that_goes_bad_near_its_end_is_refused_before_anything_is_written(
        ctx: Context, tmp_path: Path, small_chunks: int) -> None:
    path = _write(tmp_path / "r.csv", [_row(n) for n in range(1, 3 * small_chunks + 1)])
    with path.open("ab") as fh:
        fh.write(b"S99,Zo\xe9\n")  # Latin-1, 62 lines down
    with pytest.raises(InvalidInputError, match=r"not UTF-8 text \(line 62\)"):
        _import(ctx, path)
    assert _counts(ctx)["students"] == 0


def test_a_broken_csv_near_its_end_is_refused_before_anything_is_written(
        sqlite_ctx: Context, tmp_path: Path, small_chunks: int) -> None:
    path = _write(tmp_path / "r.csv", [_row(n) for n in range(1, 3 * small_chunks + 1)])
    with path.open("a", encoding="utf-8") as fh:
        fh.write('S99,"' + "x" * 200_000 + '"\n')  # one cell bigger than any roster value
    with pytest.raises(InvalidInputError, match="not a readable CSV file at row"):
        _import(sqlite_ctx, path)
    assert _counts(sqlite_ctx)["students"] == 0
