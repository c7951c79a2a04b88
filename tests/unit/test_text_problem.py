"""Is an object a feed's text at all? (headers.text_problem, the rule Setup and `upload` apply; issue #12)."""

from __future__ import annotations

import gzip
import random

import pytest

from covid_pipeline.feeds import accepted_files
from covid_pipeline.headers import text_problem

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x10"
NYT = b"date,county,state,fips,cases,deaths\n2020-04-01,Autauga,Alabama,01001,5,1\n"


def test_a_png_named_csv_is_not_utf8_text_at_offset_0() -> None:
    assert text_problem(PNG, "enigma-jhu/csv/x.csv") == "not UTF-8 text: byte 0x89 at offset 0"


def test_random_bytes_are_refused() -> None:
    noise = random.Random(12).randbytes(64 * 1024)
    problem = text_problem(noise, "enigma-jhu/csv/noise.csv")
    assert problem is not None
    assert problem.startswith(("not UTF-8 text: byte 0x", "not text: NUL byte at offset "))


def test_utf8_text_with_a_nul_byte_is_not_text() -> None:
    # UTF-16 text: its header decodes as UTF-8 (ASCII + NUL), but no text file holds NUL bytes.
    assert text_problem("date,cases\n".encode("utf-16-le"), "x.csv") == "not text: NUL byte at offset 1"


@pytest.mark.parametrize(
    "content",
    [
        NYT,
        b"\xef\xbb\xbf" + NYT,  # a BOM
        NYT.replace(b"\n", b"\r\n"),
        # A latin-1 byte in a data row: that row is quarantined by Clean, the rest of the object loads.
        NYT + "2020-04-01,Bogotá,Alabama,,5,1\n".encode("latin-1"),
        b"",  # empty: refused later as "empty object", not here
        b'{"a": "\xc3\xa9"}\n',
    ],
)
def test_text_objects_pass(content: bytes) -> None:
    assert text_problem(content, "data/x.csv") is None


def test_a_character_cut_by_the_end_of_the_bytes_read_is_not_an_error() -> None:
    header = "Province/State,Country/Region,Ñame".encode()
    assert text_problem(header[:-4], "x.csv") is None  # "Ñ" is two bytes: the read stopped between them


def test_a_gzip_object_is_judged_by_its_content() -> None:
    assert text_problem(gzip.compress(NYT), "x.csv.gz") is None
    assert text_problem(gzip.compress(PNG), "x.csv.gz") == "not UTF-8 text: byte 0x89 at offset 0 (decompressed)"
    problem = text_problem(PNG, "x.csv.gz")
    assert problem is not None
    assert problem.startswith("not gzip data although named .gz")


def test_accepted_files_say_which_kinds_of_file_each_folder_of_a_dataset_takes() -> None:
    assert accepted_files("enigma-nytimes-data-in-usa") == ["csv/us_county/: *.csv[.gz]", "csv/us_states/: *.csv[.gz]"]
    jhu = accepted_files("enigma-jhu")
    assert jhu[0] == "csv/: MM-DD-YYYY.csv, *.csv[.gz], *.json|*.jsonl|*.geojson[.gz]"
    assert all(".png" not in kinds for kinds in jhu)
