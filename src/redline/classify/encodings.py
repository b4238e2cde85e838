"""Text hidden under encodings, decoded layer by layer so it is scored like plain text.

A request can hide what it asks in base64, base32 or hex blobs, in a Caesar shift (ROT13
is shift 13), or in several of these stacked ("base64 of base64"). `decoded_layers` peels
them to a bounded depth. A blob counts when it decodes to readable text (or to another
blob); a shift counts only where the shifted text is clearly more English-like than the
text as written, so ordinary prose, code and other languages are left alone.
"""

from __future__ import annotations

import base64
import binascii
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

MAX_DEPTH = 3  # encodings stacked on one another
MAX_LAYERS = 16  # decoded layers per text

_BASE64 = re.compile(r"(?<![A-Za-z0-9+/=])[A-Za-z0-9+/]{24,}={0,2}(?![A-Za-z0-9+/=])")
_BASE32 = re.compile(r"(?<![A-Za-z0-9=])[A-Z2-7]{16,}={0,6}(?![A-Za-z0-9=])")
_HEX = re.compile(r"\b(?:[0-9a-fA-F]{2}){12,}\b")


@dataclass(frozen=True)
class Layer:
    encoding: str  # the chain peeled, outermost first: "base64", "base64>base64", "rot13"
    text: str


# --- blobs ------------------------------------------------------------------------------


def _b64(blob: str) -> bytes:
    return base64.b64decode(blob + "=" * (-len(blob) % 4), validate=True)


def _b32(blob: str) -> bytes:
    body = blob.rstrip("=")
    return base64.b32decode(body + "=" * (-len(body) % 8))


_BLOBS: tuple[tuple[str, re.Pattern[str], Callable[[str], bytes]], ...] = (
    ("base64", _BASE64, _b64),
    ("base32", _BASE32, _b32),
    ("hex", _HEX, bytes.fromhex),
)


def _is_blob(text: str) -> bool:
    return any(pattern.fullmatch(text) for _, pattern, _ in _BLOBS)


def readable(raw: bytes) -> str | None:
    """Decoded bytes as text when they read as text (mostly letters and spaces), or are
    themselves a blob to peel further; None for binary."""
    try:
        decoded = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not decoded:
        return None
    letters = sum(ch.isalpha() or ch.isspace() for ch in decoded)
    if letters / len(decoded) > 0.8 or _is_blob(decoded.strip()):
        return decoded
    return None


def _blob_layers(text: str) -> Iterator[tuple[str, str]]:
    for name, pattern, decode in _BLOBS:
        for match in pattern.finditer(text):
            try:
                raw = decode(match.group(0))
            except (binascii.Error, ValueError):
                continue
            if (plain := readable(raw)) is not None:
                yield name, plain


# --- shifts -----------------------------------------------------------------------------

# Letter frequencies of English text (per cent), a-z.
_FREQ = (
    8.2, 1.5, 2.8, 4.3, 12.7, 2.2, 2.0, 6.1, 7.0, 0.15, 0.77, 4.0, 2.4,
    6.7, 7.5, 1.9, 0.095, 6.0, 6.3, 9.1, 2.8, 0.98, 2.4, 0.15, 2.0, 0.074,
)  # fmt: skip
_LOGP = tuple(math.log(f / 100) for f in _FREQ)
# The fifty most frequent letter pairs of English: about half of the pairs in English words,
# a few per cent in shifted or random letters.
_TOP_PAIRS = frozenset((
    "th", "he", "in", "er", "an", "re", "on", "at", "en", "nd",
    "ti", "es", "or", "te", "of", "ed", "is", "it", "al", "ar",
    "st", "to", "nt", "ng", "se", "ha", "as", "ou", "io", "le",
    "ve", "co", "me", "de", "hi", "ri", "ro", "ic", "ne", "ea",
    "ra", "ce", "li", "ch", "ll", "be", "ma", "si", "om", "ur",
))  # fmt: skip
# Clauses: a shift is judged per clause, and code's punctuation and identifiers' joints
# end one, so short identifiers never add up to a "sentence" of shifted letters.
_CHUNK = re.compile(r"[^.!?;:,=_/\\|&*+#'`\n\"“”()\[\]{}<>]+")
_WORD = re.compile(r"[a-z]+")
_LETTERS_ONLY = re.compile(r"(?<![\w-])[a-z]+(?![\w-])")
MIN_LETTERS = 16
LETTER_GAIN = 0.3  # mean log-probability per letter a shift must gain (natural log)
PAIRS_MIN = 0.4  # share of frequent pairs the shifted text must reach
PAIRS_GAIN = 0.2  # and gain over the text as written


def _shift_table(shift: int) -> dict[int, int]:
    low = "abcdefghijklmnopqrstuvwxyz"
    up = low.upper()
    return str.maketrans(low + up, low[shift:] + low[:shift] + up[shift:] + up[:shift])


_SHIFTS: dict[int, dict[int, int]] = {s: _shift_table(s) for s in range(1, 26)}


def _pair_share(text: str) -> float:
    pairs = [w[i : i + 2] for w in _WORD.findall(text.lower()) for i in range(len(w) - 1)]
    return sum(p in _TOP_PAIRS for p in pairs) / len(pairs) if pairs else 0.0


def _best_shift(chunk: str) -> int | None:
    """The shift that decodes `chunk`, or None when it reads best as written.

    1. A chunk with letters outside a-z is another language, never a shift of English.
    2. Count the letters of its words made only of letters, once; each shift's English
       log-likelihood is a rotation of those counts.
    3. Take the most likely shift; keep it only when it is clearly more English-like than
       the chunk as written: a clearly better letter distribution, and English's frequent
       letter pairs where the chunk as written has few."""
    if any(ch.isalpha() and not ch.isascii() for ch in chunk):
        return None
    words = _LETTERS_ONLY.findall(chunk.lower())  # not hashes, grid references or leetspeak
    counts = [0] * 26
    for ch in "".join(words):
        counts[ord(ch) - 97] += 1
    n = sum(counts)
    if n < MIN_LETTERS or sum(len(w) > 1 for w in words) < 2:
        return None
    # Decoding by `s` turns letter i into letter (i + s) % 26.
    scores = [sum(counts[i] * _LOGP[(i + s) % 26] for i in range(26)) / n for s in range(26)]
    shift = max(range(1, 26), key=scores.__getitem__)
    if scores[shift] - scores[0] < LETTER_GAIN:
        return None
    before, after = _pair_share(chunk), _pair_share(chunk.translate(_SHIFTS[shift]))
    return shift if after >= PAIRS_MIN and after - before >= PAIRS_GAIN else None


def unshifted(text: str) -> tuple[str, str] | None:
    """(the encoding, the text with every shifted chunk decoded in place), or None."""
    used: set[int] = set()

    def decode(m: re.Match[str]) -> str:
        shift = _best_shift(m.group(0))
        if shift is None:
            return m.group(0)
        used.add(shift)
        return m.group(0).translate(_SHIFTS[shift])

    plain = _CHUNK.sub(decode, text)
    if not used:
        return None
    return ("rot13" if used == {13} else "caesar"), plain


# --- layers -----------------------------------------------------------------------------


def _decode_once(text: str) -> Iterator[tuple[str, str]]:
    yield from _blob_layers(text)
    if (shifted := unshifted(text)) is not None:
        yield shifted


def decoded_layers(text: str, depth: int = MAX_DEPTH) -> list[Layer]:
    """Every readable layer hidden in `text`, to `depth` encodings deep (at most MAX_LAYERS).
    A layer that is only another blob is peeled, not returned."""
    found: list[Layer] = []
    queue: list[tuple[str, str, int]] = [("", text, 0)]
    seen = {text}
    while queue and len(found) < MAX_LAYERS:
        chain, current, level = queue.pop(0)
        if level >= depth:
            continue
        for name, plain in _decode_once(current):
            if plain in seen:
                continue
            seen.add(plain)
            encoding = f"{chain}>{name}" if chain else name
            if not _is_blob(plain.strip()):
                found.append(Layer(encoding, plain))
            queue.append((encoding, plain, level + 1))
    return found[:MAX_LAYERS]
