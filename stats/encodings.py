"""EUC-TW (CNS 11643) as a normal Python codec, converted by glibc's iconv.

Importing this module registers the codec, so ``"村".encode("euc-tw")``,
``open(path, "w", encoding="euc-tw")`` and ``codecs.iterdecode(chunks, "euctw")``
work like any built-in codec, including every error handler.

On the Python side iconv reads and writes UTF-32LE: four bytes per code point,
so iconv's byte offsets divided by four are exactly the ``str`` indexes that
``UnicodeEncodeError`` needs.  Text is converted in large slices with one iconv
call each; per-character work happens only at an error.

glibc quirks (2.36, checked by ``tests/stats/test_encodings.py``):

- It maps 55,569 characters: ASCII, CNS 11643 planes 1-7 and plane 15 (SS2
  plane bytes A2-A7, AF), none of them private-use.  The Private Use Area
  (MOI's made characters, U+F0000-U+FFFFD), lone surrogates and e.g. U+25562
  are unencodable.  Every character it maps round-trips.
- It drops the Unicode tag characters U+E0000-U+E007F without an error (so
  does the ``iconv`` command); this codec reports them as unencodable instead.
- Decoding is many-to-one: ``8E A1 xx xx`` (plane 1 in the 4-byte form) decodes
  like ``xx xx``, and plane 3's ``8E A3 A1 B8`` decodes to U+5344 like
  ``A4 BF``; encoding always gives the shortest, plane-1 form.
- It reports EINVAL for any short tail, even one like ``8E A2 41`` that no
  further byte can complete; such a tail is invalid here, not incomplete.
"""

from __future__ import annotations

import codecs
import ctypes
import ctypes.util
import errno
import functools
import re
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

NAME = "euc_tw"
# What the search function can receive: Python lowercases the name and turns
# hyphens and spaces into underscores, so "EUC-TW" arrives as "euc_tw".
_ALIASES = frozenset({"euc_tw", "euctw"})
_ICONV_NAME = b"EUC-TW"
_WIDE = b"UTF-32LE"  # no BOM, one 4-byte unit per code point
_UNIT = 4
# Unicode tag characters, which glibc's converters skip silently.
_TAGS = re.compile("[\U000e0000-\U000e007f]")

_UNMAPPED = "character not in CNS 11643 as mapped by glibc"

_SLICE_CHARS = 1 << 20  # str characters per iconv call when encoding
_RESLICE_CHARS = 256  # first slice after an error
_OUT_CAP = 8 << 20  # largest output buffer handed to iconv, in bytes

_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
_iconv_open = _libc.iconv_open
_iconv_open.argtypes = [ctypes.c_char_p, ctypes.c_char_p]  # (tocode, fromcode)
_iconv_open.restype = ctypes.c_void_p
_iconv = _libc.iconv
_iconv.argtypes = [
    ctypes.c_void_p,  # iconv_t cd
    ctypes.POINTER(ctypes.c_void_p),  # char **inbuf
    ctypes.POINTER(ctypes.c_size_t),  # size_t *inbytesleft
    ctypes.POINTER(ctypes.c_void_p),  # char **outbuf
    ctypes.POINTER(ctypes.c_size_t),  # size_t *outbytesleft
]
_iconv.restype = ctypes.c_size_t
_iconv_close = _libc.iconv_close
_iconv_close.argtypes = [ctypes.c_void_p]
_iconv_close.restype = ctypes.c_int

_FAILED = ctypes.c_size_t(-1).value  # (size_t)-1 and (iconv_t)-1 share this value


class _Iconv:
    """One iconv descriptor and a reusable output buffer, for one conversion call."""

    def __init__(self, to: bytes, from_: bytes, out_size: int) -> None:
        # A descriptor per call keeps calls independent and thread-safe; opening
        # one costs microseconds once glibc has loaded its gconv module.
        cd = _iconv_open(to, from_)
        if cd is None or cd == _FAILED:
            err = ctypes.get_errno()
            reason = errno.errorcode.get(err, str(err))
            raise LookupError(f"iconv cannot convert {from_!r} to {to!r}: {reason}")
        self._cd: int = cd
        self._size = max(16, min(_OUT_CAP, out_size))
        self._buf = ctypes.create_string_buffer(self._size)

    def __enter__(self) -> _Iconv:
        return self

    def __exit__(self, *exc: object) -> None:
        _iconv_close(self._cd)

    def run(self, data: bytes, start: int) -> tuple[bytes, int, int]:
        """Convert data[start:] until done or an error; return (output, stop offset, errno or 0)."""
        base = ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p).value or 0
        in_ptr = ctypes.c_void_p(base + start)
        in_left = ctypes.c_size_t(len(data) - start)
        out_base = ctypes.addressof(self._buf)
        parts: list[bytes] = []
        while True:
            out_ptr = ctypes.c_void_p(out_base)
            out_left = ctypes.c_size_t(self._size)
            result = _iconv(
                self._cd,
                ctypes.byref(in_ptr),
                ctypes.byref(in_left),
                ctypes.byref(out_ptr),
                ctypes.byref(out_left),
            )
            parts.append(ctypes.string_at(out_base, self._size - out_left.value))
            err = 0 if result != _FAILED else ctypes.get_errno()
            if err != errno.E2BIG:  # E2BIG: the buffer is full; keep it and go on
                break
        if err:
            # Forget any shift state before the caller resumes after the error.
            _iconv(self._cd, None, None, None, None)
        return b"".join(parts), len(data) - in_left.value, err


def _resume(position: int, length: int) -> int:
    """Turn an error handler's resume position into an index, as CPython does."""
    if position < 0:
        position += length
    if not 0 <= position <= length:
        raise IndexError(f"position {position} from error handler out of bounds")
    return position


def _encode_until_error(conv: _Iconv, text: str, pos: int, size: int, out: list[bytes]) -> int:
    """Encode text[pos:] into `out` until an unencodable character; return its index or len(text)."""
    while pos < len(text):
        limit = min(len(text), pos + size)
        # glibc drops Unicode tag characters without an error: stop before one.
        tag = _TAGS.search(text, pos, limit)
        end = tag.start() if tag else limit
        # surrogatepass lets lone surrogates reach iconv, which rejects them
        # at their own position like any other unencodable character.
        chunk, stop, err = conv.run(text[pos:end].encode("utf-32-le", "surrogatepass"), 0)
        out.append(chunk)
        if err or tag:
            return pos + stop // _UNIT
        pos = end
        # Slices start small after an error and double, so text dense with
        # errors is not re-sliced in full at each one.
        size = min(2 * size, _SLICE_CHARS)
    return pos


def encode(text: str, errors: str = "strict") -> tuple[bytes, int]:
    """Encode `text` to EUC-TW; return (bytes, characters consumed)."""
    out: list[bytes] = []
    pos = 0
    # EUC-TW needs at most 4 bytes per character, as many as UTF-32LE.
    with _Iconv(_ICONV_NAME, _WIDE, _UNIT * min(len(text), _SLICE_CHARS)) as conv:
        size = _SLICE_CHARS
        while (bad := _encode_until_error(conv, text, pos, size, out)) < len(text):
            exc = UnicodeEncodeError(NAME, text, bad, bad + 1, _UNMAPPED)
            if errors == "strict":
                raise exc
            replacement, resume = codecs.lookup_error(errors)(exc)
            if isinstance(replacement, str):
                try:
                    # EUC-TW keeps ASCII as is; only other replacements need iconv.
                    if replacement.isascii():
                        replacement = replacement.encode("ascii")
                    else:
                        replacement = encode(replacement)[0]
                except UnicodeEncodeError:
                    raise exc from None  # CPython also reports the original character
            out.append(replacement)
            pos, size = _resume(resume, len(text)), _RESLICE_CHARS
    return b"".join(out), len(text)


def _bad_length(data: bytes, start: int) -> int:
    """Length of the invalid sequence at `start`: its longest well-formed prefix, at least 1 byte."""
    # Like the Unicode recommendation for UTF-8, a replacement covers the bytes
    # that looked like one character, and decoding resumes at the first byte
    # that did not, so ASCII after a broken code is never swallowed.
    if data[start] == 0x8E:  # SS2, plane byte A1-B0, then two bytes A1-FE
        pattern = [range(0xA1, 0xB1), range(0xA1, 0xFF), range(0xA1, 0xFF)]
    elif 0xA1 <= data[start] <= 0xFE:  # plane 1: two bytes A1-FE
        pattern = [range(0xA1, 0xFF)]
    else:
        return 1
    length = 1
    for allowed, byte in zip(pattern, data[start + 1 :], strict=False):
        if byte not in allowed:
            break
        length += 1
    return length


def decode(data: ReadableBuffer, errors: str = "strict", final: bool = False) -> tuple[str, int]:
    """Decode EUC-TW `data` to (text, bytes consumed); keep an incomplete tail unless `final`."""
    data = bytes(data)  # no copy for bytes; iconv needs a stable buffer
    out: list[str] = []
    pos = 0
    # UTF-32LE needs at most 4 bytes per EUC-TW byte (ASCII).
    with _Iconv(_WIDE, _ICONV_NAME, _UNIT * len(data)) as conv:
        while pos < len(data):
            chunk, stop, err = conv.run(data, pos)
            out.append(chunk.decode("utf-32-le"))
            if not err:
                pos = len(data)
            else:
                # glibc says EINVAL for any short tail, even "8E A2 41" that can
                # never become a character; only a well-formed prefix is incomplete.
                end = stop + _bad_length(data, stop)
                incomplete = err == errno.EINVAL and end == len(data)
                if incomplete and not final:
                    return "".join(out), stop  # a character split across calls: wait for the rest
                reason = "incomplete multibyte sequence" if incomplete else "invalid or unmapped"
                exc = UnicodeDecodeError(NAME, data, stop, end, reason)
                if errors == "strict":
                    raise exc
                replacement, resume = codecs.lookup_error(errors)(exc)
                if not isinstance(replacement, str):
                    raise TypeError(f"decoding error handler must return (str, int), not {replacement!r}")
                out.append(replacement)
                pos = _resume(resume, len(data))
    return "".join(out), pos


def _decode_all(data: ReadableBuffer, errors: str = "strict") -> tuple[str, int]:
    """Decode a complete EUC-TW byte string (the codec's stateless decode)."""
    return decode(data, errors, final=True)


class IncrementalEncoder(codecs.IncrementalEncoder):
    """EUC-TW has no shift state, so each piece of text encodes on its own."""

    def encode(self, input: str, final: bool = False) -> bytes:
        """Encode one piece of text."""
        return encode(input, self.errors)[0]


class IncrementalDecoder(codecs.BufferedIncrementalDecoder):
    """Keeps a character split across calls until its remaining bytes arrive."""

    def _buffer_decode(self, input: ReadableBuffer, errors: str, final: bool) -> tuple[str, int]:
        return decode(input, errors, final)


class StreamWriter(codecs.StreamWriter):
    """Stream writer for EUC-TW."""

    def encode(self, input: str, errors: str = "strict") -> tuple[bytes, int]:
        """Encode one write()."""
        return encode(input, errors)


class StreamReader(codecs.StreamReader):
    """Stream reader for EUC-TW; codecs.StreamReader buffers incomplete tails."""

    def decode(self, input: ReadableBuffer, errors: str = "strict") -> tuple[str, int]:
        """Decode one read(), leaving an incomplete tail for the next."""
        return decode(input, errors, final=False)


CODEC_INFO = codecs.CodecInfo(
    name=NAME,
    encode=encode,
    decode=_decode_all,
    incrementalencoder=IncrementalEncoder,
    incrementaldecoder=IncrementalDecoder,
    streamreader=StreamReader,
    streamwriter=StreamWriter,
)


@functools.cache
def available() -> bool:
    """Whether this C library's iconv converts EUC-TW in both directions."""
    try:
        with _Iconv(_ICONV_NAME, _WIDE, 0), _Iconv(_WIDE, _ICONV_NAME, 0):
            return True
    except LookupError:
        return False


def _search(name: str) -> codecs.CodecInfo | None:
    """Codec search function: EUC-TW under its three spellings, if iconv has it."""
    if name.replace("-", "_").replace(" ", "_").lower() in _ALIASES and available():
        return CODEC_INFO
    return None


# Positions reported to the collecting error handler during one unencodable()
# call; a ContextVar keeps concurrent calls (threads, tasks) apart.
_collected: ContextVar[list[int]] = ContextVar("_collected")
_COLLECT = "stats.encodings.collect"


def _collect(exc: UnicodeError) -> tuple[str, int]:
    """Error handler that records the failing positions and skips them."""
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    _collected.get().extend(range(exc.start, exc.end))
    return "", exc.end


def unencodable(text: str, encoding: str) -> list[tuple[int, str]]:
    """(position, character) for every character of `text` that `encoding` cannot encode."""
    # Encoding the whole text once asks the codec itself, in context: big5hkscs,
    # for one, encodes U+0304 only right after Ê/ê, as part of one code.
    token = _collected.set([])
    try:
        text.encode(encoding, _COLLECT)
        return [(i, text[i]) for i in _collected.get()]
    finally:
        _collected.reset(token)


codecs.register_error(_COLLECT, _collect)
codecs.register(_search)
