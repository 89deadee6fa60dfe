"""The export file readers, directly: exact records, line numbers and reasons (no database)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ingestion.platform_exports.readers import FileRejected, Record, read_records


@pytest.fixture
def write(tmp_path: Path):
    def _write(name: str, data: bytes | str) -> Path:
        path = tmp_path / name
        path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
        return path

    return _write


def read(path: Path, required: tuple[str, ...] = ("a", "b")) -> list[Record]:
    return list(read_records(path, list(required)))


def ok(line: int, raw: str, **fields: object) -> Record:
    return Record(line, raw, fields)


def bad(line: int, raw: str, error: str) -> Record:
    return Record(line, raw, None, error)


def rejected(path: Path, required: tuple[str, ...] = ("a", "b")) -> FileRejected:
    with pytest.raises(FileRejected) as info:
        read(path, required)
    return info.value


# -- CSV ------------------------------------------------------------------------------------


def test_csv_quoted_comma_stays_in_its_field(write):
    path = write("f.csv", 'a,b,c\n1,"x, y",3\n')
    assert read(path) == [ok(2, '1,"x, y",3', a="1", b="x, y", c="3")]


def test_csv_multiline_quoted_field_is_one_record_and_later_lines_keep_their_numbers(write):
    path = write("f.csv", 'a,b,c\n1,"line1\nline2\nline3",3\n2,z,4\n')
    assert read(path) == [
        ok(2, '1,"line1\nline2\nline3",3', a="1", b="line1\nline2\nline3", c="3"),
        ok(5, "2,z,4", a="2", b="z", c="4"),
    ]


def test_csv_broken_quoting_rejects_that_line_only_and_resyncs(write):
    path = write("f.csv", 'a,b,c\n1,"broken,3\n2,ok,4\n3,ok,5\n')
    assert read(path) == [
        bad(2, '1,"broken,3', "broken quoting: unterminated quoted field"),
        ok(3, "2,ok,4", a="2", b="ok", c="4"),
        ok(4, "3,ok,5", a="3", b="ok", c="5"),
    ]


def test_csv_broken_quoting_then_a_valid_multiline_record(write):
    # the read-ahead after the broken line is re-read: the multiline record still parses
    path = write("f.csv", 'a,b,c\n1,"broken,3\n2,"p\nq",4\n5,ok,6\n')
    assert read(path) == [
        bad(2, '1,"broken,3', "broken quoting: unterminated quoted field"),
        ok(3, '2,"p\nq",4', a="2", b="p\nq", c="4"),
        ok(5, "5,ok,6", a="5", b="ok", c="6"),
    ]


def test_csv_stray_quote_after_a_quoted_field(write):
    path = write("f.csv", 'a,b,c\n1,"x"y,3\n2,ok,4\n')
    assert read(path) == [
        bad(2, '1,"x"y,3', "broken quoting: ',' expected after '\"'"),
        ok(3, "2,ok,4", a="2", b="ok", c="4"),
    ]


def test_csv_unterminated_quote_on_the_last_line(write):
    path = write("f.csv", 'a,b\n1,2\n3,"open')
    assert read(path) == [
        ok(2, "1,2", a="1", b="2"),
        bad(3, '3,"open', "broken quoting: unexpected end of data"),
    ]


def test_csv_broken_quote_at_the_top_of_a_large_file_is_linear(write):
    rows = 100_000
    path = write("f.csv", 'a,b\n1,"broken\n' + "".join(f"{i},x\n" for i in range(rows)))
    started = time.monotonic()
    records = read(path)
    elapsed = time.monotonic() - started
    assert len(records) == rows + 1 and records[0].error and records[-1].line == rows + 2
    assert elapsed < 20, f"{elapsed:.1f} s: the resync after broken quoting is not linear"


def test_csv_crlf_line_endings(write):
    path = write("f.csv", 'a,b,c\r\n1,"m\r\nn",3\r\n2,z,4\r\n')
    assert read(path) == [
        ok(2, '1,"m\r\nn",3', a="1", b="m\r\nn", c="3"),  # a line break inside quotes is data
        ok(4, "2,z,4", a="2", b="z", c="4"),
    ]


def test_csv_bom_is_not_part_of_the_first_column_name(write):
    path = write("f.csv", b"\xef\xbb\xbfa,b\n1,2\n")
    assert read(path) == [ok(2, "1,2", a="1", b="2")]


def test_csv_blank_lines_are_skipped_but_counted(write):
    path = write("f.csv", "a,b\n\n1,2\n\r\n  \n3,4")  # last line without a newline
    assert read(path) == [ok(3, "1,2", a="1", b="2"), ok(6, "3,4", a="3", b="4")]


def test_csv_header_names_are_stripped(write):
    path = write("f.csv", " a , b\n1,2\n")
    assert read(path) == [ok(2, "1,2", a="1", b="2")]


def test_csv_header_missing_a_required_column_rejects_the_file(write):
    err = rejected(write("f.csv", "a,c\n1,2\n"))
    assert (err.reason, err.line) == ("CSV header is missing required column(s): b", 1)


def test_csv_header_naming_a_column_twice_rejects_the_file(write):
    err = rejected(write("f.csv", "a,b,a\n1,2,3\n"))
    assert (err.reason, err.line) == ("CSV header names a column twice", 1)


def test_csv_unreadable_header_rejects_the_file(write):
    err = rejected(write("f.csv", 'a,"b\n1,2\n'))
    assert (err.reason, err.line) == ("unreadable CSV header: unexpected end of data", 1)


def test_csv_extra_columns_are_kept_and_a_short_row_is_rejected(write):
    path = write("f.csv", "a,b,zz\n1,2,3\n1,2\n1,2,3,4\n")
    assert read(path) == [
        ok(2, "1,2,3", a="1", b="2", zz="3"),
        bad(3, "1,2", "wrong number of fields: 2 instead of 3"),
        bad(4, "1,2,3,4", "wrong number of fields: 4 instead of 3"),
    ]


def test_csv_header_only_has_no_records(write):
    assert read(write("f.csv", "a,b\n")) == []


def test_csv_bom_only_is_an_empty_file(write):
    assert rejected(write("f.csv", b"\xef\xbb\xbf")).reason == "empty file (no header line)"


# -- JSONL ----------------------------------------------------------------------------------


def test_jsonl_blank_lines_are_skipped_and_bad_lines_keep_their_number(write):
    path = write("f.jsonl", '{"a":1}\n\n{"a": \n[1]\n{"b":2}\r\n')
    assert read(path) == [
        ok(1, '{"a":1}', a=1),
        bad(3, '{"a": ', "not valid JSON: Expecting value at column 7"),
        bad(4, "[1]", "not a JSON object (a list)"),
        ok(5, '{"b":2}', b=2),
    ]


def test_jsonl_only_blank_lines_has_no_records(write):
    assert read(write("f.jsonl", "\n\n")) == []


# -- JSON arrays ----------------------------------------------------------------------------


def test_json_array_records_are_numbered_by_position(write):
    path = write("f.json", '[\n{"a":1},\n 5,\n{"b":"é"}\n]')
    assert read(path) == [
        ok(1, '{"a": 1}', a=1),
        bad(2, "5", "not a JSON object (a int)"),
        ok(3, '{"b": "é"}', b="é"),
    ]


def test_json_that_is_not_an_array_is_rejected(write):
    err = rejected(write("f.json", '{"a": 1}'))
    assert (err.reason, err.line) == ("not one JSON array: the document is a dict", None)


def test_invalid_json_is_rejected_with_its_line(write):
    err = rejected(write("f.json", '[{"a":1},\n{"a":]'))
    assert (err.reason, err.line) == (
        "not one valid JSON array: Expecting value at line 2 column 6",
        2,
    )


def test_whitespace_only_json_is_an_empty_file(write):
    assert rejected(write("f.json", "  \n")).reason == "empty file (no JSON document)"


# -- every format ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "data", "offset", "byte"),
    [
        ("f.csv", b"a,b\n1,\xff\n", 6, "ff"),
        ("f.jsonl", b'{"a":"\xe9"}\n', 6, "e9"),
        ("f.json", b'[{"a":"\xc3"}]', 7, "c3"),
    ],
)
def test_non_utf8_bytes_reject_the_file(write, name, data, offset, byte):
    reason = rejected(write(name, data)).reason
    assert reason.startswith(f"not UTF-8: byte 0x{byte} near byte offset {offset} ")


@pytest.mark.parametrize("name", ["f.csv", "f.jsonl", "f.json"])
def test_zero_byte_file_is_rejected(write, name):
    assert rejected(write(name, b"")).reason == "empty file (0 bytes)"


def test_unsupported_suffix_is_rejected(write):
    err = rejected(write("f.txt", "a,b\n"))
    assert err.reason == "unsupported file type '.txt' (expected .csv, .jsonl or .json)"
