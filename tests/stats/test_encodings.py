"""The EUC-TW codec over glibc's iconv, against the data, the iconv tool and Python's codec rules."""

from __future__ import annotations

import codecs
import csv
import functools
import io
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stats.encodings import available, unencodable

pytestmark = pytest.mark.skipif(not available(), reason="this C library's iconv has no EUC-TW")

SHARED = Path(__file__).resolve().parents[2].parent / "shared"
VILLAGES = SHARED / "codes" / "villages_history.csv"
ICONV = shutil.which("iconv") or "/usr/bin/iconv"
ICONV_TO_EUC_TW = [ICONV, "-f", "UTF-8", "-t", "EUC-TW"]

PUA_1, PUA_2 = "\U000fffa8", "\U000fb56f"  # MOI made characters, read as 磘 and 塭
TAG = "\U000e0001"  # Unicode LANGUAGE TAG, which glibc drops silently


def strict_unencodable(text: str, encoding: str) -> list[tuple[int, str]]:
    """Ask the codec character by character: encode each one alone, strictly."""
    bad = []
    for i, ch in enumerate(text):
        try:
            ch.encode(encoding, "strict")
        except UnicodeEncodeError:
            bad.append((i, ch))
    return bad


@functools.cache
def encodable_alphabet() -> str:
    """Every character of the BMP and plane 2 that EUC-TW encodes (about 55,000)."""
    candidates = "".join(
        chr(c) for c in [*range(0x10000), *range(0x20000, 0x2FA20)] if not 0xD800 <= c <= 0xDFFF
    )
    bad = {i for i, _ in unencodable(candidates, "euc_tw")}
    return "".join(ch for i, ch in enumerate(candidates) if i not in bad)


def village_names() -> list[str]:
    """Distinct village names of the shared code history."""
    if not VILLAGES.exists():
        pytest.skip(f"shared data not found at {VILLAGES}")
    with VILLAGES.open(encoding="utf-8", newline="") as f:
        return sorted({row["village_name"] for row in csv.DictReader(f)})


# --- lookup -----------------------------------------------------------------


@pytest.mark.parametrize("name", ["euc_tw", "euc-tw", "euctw", "EUC-TW", "EUC_TW"])
def test_lookup_finds_full_codec_info(name: str) -> None:
    info = codecs.lookup(name)
    assert isinstance(info, codecs.CodecInfo)
    assert info.name == "euc_tw"
    parts = ("encode", "decode", "incrementalencoder", "incrementaldecoder", "streamreader", "streamwriter")
    for part in parts:
        assert getattr(info, part) is not None, part


def test_lookup_leaves_other_names_alone() -> None:
    with pytest.raises(LookupError):
        codecs.lookup("euc_twx")


# --- known bytes --------------------------------------------------------------


# Taken once from glibc 2.36's command-line tool:
#   printf '%s' 庄 | iconv -f UTF-8 -t EUC-TW | xxd -p
@pytest.mark.parametrize("char, hex_bytes", [
    ("A", "41"),             # ASCII as is
    ("\u3000", "a1a1"),      # ideographic space: first plane-1 code
    ("中", "c4e3"),          # plane 1, 2 bytes
    ("村", "cada"),
    ("臺", "ead7"),
    ("庄", "8ea2a2bc"),      # plane 2, 4 bytes: SS2, plane byte A2, two bytes
    ("埕", "8ea2aece"),
    ("廍", "8ea3e4f4"),      # plane 3
    ("𦰡", "8eafb8a3"),      # plane 15, outside the BMP
    ("卄", "a4bf"),          # also decodable from plane 3, see below
])  # fmt: skip
def test_known_bytes(char: str, hex_bytes: str) -> None:
    assert char.encode("euc-tw") == bytes.fromhex(hex_bytes)
    assert bytes.fromhex(hex_bytes).decode("euc-tw") == char


@pytest.mark.parametrize("hex_bytes, char", [
    ("8ea1c4e3", "中"),  # plane 1 written in the 4-byte form
    ("8ea3a1b8", "卄"),  # glibc maps this plane-3 code to U+5344 too
])  # fmt: skip
def test_decode_is_many_to_one(hex_bytes: str, char: str) -> None:
    assert bytes.fromhex(hex_bytes).decode("euc-tw") == char
    assert char.encode("euc-tw") != bytes.fromhex(hex_bytes)  # encoding gives the short form


# --- village names ------------------------------------------------------------


def test_village_names_unencodable_matches_codec_and_round_trip() -> None:
    names = village_names()
    made_chars = set()
    for name in names:
        bad = unencodable(name, "euc_tw")
        assert bad == strict_unencodable(name, "euc_tw"), name
        made_chars |= {ch for _, ch in bad if 0xF0000 <= ord(ch) <= 0xFFFFD}
        if not bad:
            assert name.encode("euc-tw").decode("euc-tw") == name
    # The file holds MOI made characters, and EUC-TW encodes none of them.
    assert {PUA_1, PUA_2} <= made_chars
    assert all(0xF0000 <= ord(ch) <= 0xFFFFD for ch in made_chars)


@pytest.mark.parametrize("encoding", ["cp950", "big5hkscs", "utf-8"])
def test_unencodable_matches_other_codecs(encoding: str) -> None:
    for name in village_names():
        assert unencodable(name, encoding) == strict_unencodable(name, encoding), name


def test_unencodable_asks_the_codec_in_context() -> None:
    # big5hkscs encodes Ê + U+0304 as one code (0x8862), though U+0304 alone fails.
    assert unencodable("\u00ca\u0304", "big5hkscs") == []
    assert strict_unencodable("\u00ca\u0304", "big5hkscs") == [(1, "\u0304")]


def test_private_use_tags_and_surrogates_are_unencodable() -> None:
    made = "".join(chr(c) for c in range(0xF0000, 0xFFFFE, 97))
    bmp_pua = "".join(chr(c) for c in range(0xE000, 0xF900, 31))
    tags = "".join(chr(c) for c in range(0xE0000, 0xE0080))
    for text in (made, bmp_pua, tags, "\ud800\udfff"):
        assert unencodable(text, "euc_tw") == list(enumerate(text))


def test_every_encodable_character_round_trips() -> None:
    alphabet = encodable_alphabet()
    assert len(alphabet) > 50_000
    assert alphabet.encode("euc-tw").decode("euc-tw") == alphabet


# --- agreement with the iconv tool ----------------------------------------------


@pytest.mark.skipif(not Path(ICONV).exists(), reason="no iconv command")
def test_encode_matches_iconv_command() -> None:
    alphabet = encodable_alphabet()
    # 60-character lines from all over the alphabet: planes 1-7 and 15
    lines = [alphabet[i : i + 60] for i in range(0, len(alphabet), 997)]
    text = "村里 Village 123\n" + "".join(line + "\n" for line in lines)
    assert 3_000 < len(text) < 6_000
    result = subprocess.run(ICONV_TO_EUC_TW, input=text.encode("utf-8"), capture_output=True, check=True)
    assert text.encode("euc-tw") == result.stdout
    assert result.stdout.decode("euc-tw") == text


@pytest.mark.skipif(not Path(ICONV).exists(), reason="no iconv command")
def test_iconv_command_rejects_what_we_call_unencodable() -> None:
    bad = {ch for name in village_names() for _, ch in unencodable(name, "euc_tw")}
    assert bad
    for ch in sorted(bad):
        result = subprocess.run(ICONV_TO_EUC_TW, input=ch.encode("utf-8"), capture_output=True)
        assert result.returncode != 0, hex(ord(ch))


# --- encode errors ----------------------------------------------------------------

TEXT = f"a{PUA_1}b村{PUA_2}c"  # unencodable characters at positions 1 and 4


def test_encode_strict_reports_first_bad_character() -> None:
    with pytest.raises(UnicodeEncodeError) as info:
        TEXT.encode("euc-tw")
    err = info.value
    assert (err.encoding, err.object, err.start, err.end) == ("euc_tw", TEXT, 1, 2)
    with pytest.raises(UnicodeEncodeError) as info:
        TEXT[2:].encode("euc-tw")
    assert (info.value.start, info.value.end) == (2, 3)


@pytest.mark.parametrize("errors, expected", [
    ("replace", b"a?b\xca\xda?c"),
    ("ignore", b"ab\xca\xdac"),
    ("xmlcharrefreplace", b"a&#1048488;b\xca\xda&#1029487;c"),
    ("backslashreplace", b"a\\U000fffa8b\xca\xda\\U000fb56fc"),
])  # fmt: skip
def test_encode_error_handlers(errors: str, expected: bytes) -> None:
    assert TEXT.encode("euc-tw", errors) == expected


READINGS = {PUA_1: "磘", PUA_2: "塭"}
calls: list[tuple[int, int]] = []


def reading_handler(exc: UnicodeError) -> tuple[str | bytes, int]:
    """Replace a made character by its reading; skip the character after U+E0001."""
    assert isinstance(exc, UnicodeEncodeError)
    calls.append((exc.start, exc.end))
    ch = exc.object[exc.start]
    if ch == TAG:
        return b"<tag>", exc.end + 1
    return READINGS[ch], exc.end


codecs.register_error("test_encodings.reading", reading_handler)


def test_encode_custom_handler_is_called_with_positions() -> None:
    calls.clear()
    assert TEXT.encode("euc-tw", "test_encodings.reading") == "a磘b村塭c".encode("euc-tw")
    assert calls == [(1, 2), (4, 5)]
    # bytes replacements pass through; the resume position may skip ahead
    assert f"x{TAG}yz".encode("euc-tw", "test_encodings.reading") == b"x<tag>z"


def test_encode_tag_character_is_not_dropped_silently() -> None:
    with pytest.raises(UnicodeEncodeError) as info:
        f"村{TAG}里".encode("euc-tw")
    assert (info.value.start, info.value.end) == (1, 2)


def test_encode_unencodable_replacement_raises_original_error() -> None:
    def bad_replacement(exc: UnicodeError) -> tuple[str, int]:
        assert isinstance(exc, UnicodeEncodeError)
        return PUA_2, exc.end

    codecs.register_error("test_encodings.bad_replacement", bad_replacement)
    with pytest.raises(UnicodeEncodeError) as info:
        TEXT.encode("euc-tw", "test_encodings.bad_replacement")
    assert info.value.start == 1


def test_encode_large_text_reports_error_past_the_first_slices() -> None:
    # 2.5 M characters: several iconv slices and output buffers
    text = "村" * 2_500_000 + PUA_1 + "a"
    with pytest.raises(UnicodeEncodeError) as info:
        text.encode("euc-tw")
    assert info.value.start == 2_500_000
    data = text.encode("euc-tw", "replace")
    assert data == b"\xca\xda" * 2_500_000 + b"?a"
    assert data.decode("euc-tw") == text.replace(PUA_1, "?")


# --- decode errors ----------------------------------------------------------------


@pytest.mark.parametrize("data, start, end", [
    (b"ab\xa1\x41c", 2, 3),          # lead byte, then ASCII
    (b"a\x80b", 1, 2),               # C1 byte
    (b"a\x8e\xa8\xa1\xa1x", 1, 5),   # well-formed plane-8 code that glibc does not map
    (b"a\x8e\xa2Ab", 1, 3),          # SS2 + plane, then ASCII
    (b"abc\xc4", 3, 4),              # incomplete at the end
    (b"abc\x8e\xa2\xa1", 3, 6),      # incomplete 4-byte code
])  # fmt: skip
def test_decode_strict_reports_byte_positions(data: bytes, start: int, end: int) -> None:
    with pytest.raises(UnicodeDecodeError) as info:
        data.decode("euc-tw")
    assert (info.value.encoding, info.value.start, info.value.end) == ("euc_tw", start, end)


@pytest.mark.parametrize("errors, expected", [
    ("replace", "ab\ufffdAc村\ufffd"),
    ("ignore", "abAc村"),
    ("backslashreplace", "ab\\xa1Ac村\\xc4"),
])  # fmt: skip
def test_decode_error_handlers(errors: str, expected: str) -> None:
    assert b"ab\xa1Ac\xca\xda\xc4".decode("euc-tw", errors) == expected


def test_decode_large_input_reports_error_past_the_first_buffers() -> None:
    data = b"\xca\xda" * 2_500_000 + b"\xff" + b"a"
    with pytest.raises(UnicodeDecodeError) as info:
        data.decode("euc-tw")
    assert info.value.start == 5_000_000
    assert data.decode("euc-tw", "replace") == "村" * 2_500_000 + "\ufffda"


# --- incremental and stream use ---------------------------------------------------

MIXED = "中A庄\n廍𦰡村b"


def test_incremental_decoder_handles_every_split() -> None:
    data = MIXED.encode("euc-tw")
    for cut in range(len(data) + 1):
        decoder = codecs.getincrementaldecoder("euc-tw")()
        assert decoder.decode(data[:cut]) + decoder.decode(data[cut:], final=True) == MIXED


def test_incremental_decoder_raises_on_incomplete_tail_only_when_final() -> None:
    decoder = codecs.getincrementaldecoder("euc-tw")()
    assert decoder.decode(b"a\x8e\xa2") == "a"
    assert decoder.decode(b"\xa2") == ""
    with pytest.raises(UnicodeDecodeError) as info:
        decoder.decode(b"", final=True)
    assert (info.value.start, info.value.end) == (0, 3)


def test_iterdecode_and_iterencode_byte_by_byte() -> None:
    data = MIXED.encode("euc-tw")
    assert "".join(codecs.iterdecode((data[i : i + 1] for i in range(len(data))), "euctw")) == MIXED
    assert b"".join(codecs.iterencode(iter(MIXED), "euc_tw")) == data


def test_open_write_then_read_round_trips(tmp_path: Path) -> None:
    lines = ["村里代碼,名稱", "09007010001,介壽村", "庄 埕 廍 𦰡", "Village, 123"]
    path = tmp_path / "villages.csv"
    with path.open("w", encoding="euc-tw") as f:
        for line in lines:
            f.write(line + "\n")
    assert path.read_bytes() == "".join(line + "\n" for line in lines).encode("euc-tw")
    with path.open(encoding="euc-tw") as f:
        assert f.read().splitlines() == lines
    with path.open("w", encoding="euc-tw") as f, pytest.raises(UnicodeEncodeError):
        f.write(f"瓦{PUA_1}村\n")


def test_stream_reader_and_writer() -> None:
    buffer = io.BytesIO()
    codecs.getwriter("euc-tw")(buffer).write(MIXED)
    assert buffer.getvalue() == MIXED.encode("euc-tw")
    reader = codecs.getreader("euc-tw")(io.BytesIO(buffer.getvalue()))
    assert "".join(iter(lambda: reader.read(1), "")) == MIXED


# --- properties -------------------------------------------------------------------


def encodable_text() -> st.SearchStrategy[str]:
    """Text drawn from characters EUC-TW encodes."""
    return st.text(st.sampled_from(encodable_alphabet()), max_size=60)


any_char = st.one_of(
    st.characters(exclude_categories=()),  # everything, lone surrogates included
    st.sampled_from([PUA_1, PUA_2, TAG, "\ue000"]),
    st.sampled_from("中村庄廍𦰡"),
)


@settings(max_examples=300, deadline=None)
@given(encodable_text())
def test_property_round_trip(text: str) -> None:
    assert text.encode("euc-tw").decode("euc-tw") == text
    assert unencodable(text, "euc_tw") == []


@settings(max_examples=300, deadline=None)
@given(st.text(any_char, max_size=40))
def test_property_replace_never_raises_and_decodes(text: str) -> None:
    bad = {i for i, _ in unencodable(text, "euc_tw")}
    assert [(i, text[i]) for i in sorted(bad)] == strict_unencodable(text, "euc_tw")
    expected = "".join("?" if i in bad else ch for i, ch in enumerate(text))
    assert text.encode("euc-tw", "replace").decode("euc-tw") == expected


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=40), st.integers(min_value=0, max_value=40))
def test_property_incremental_decode_equals_one_shot(data: bytes, cut: int) -> None:
    decoder = codecs.getincrementaldecoder("euc-tw")("replace")
    pieces = decoder.decode(data[:cut]) + decoder.decode(data[cut:], final=True)
    assert pieces == data.decode("euc-tw", "replace")
