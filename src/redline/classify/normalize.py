"""Undo obfuscation before scoring: NFKC, zero-width/control removal, homoglyphs, leetspeak.

Every classifier backend reads normalised text, so a request cannot slip past by writing
"m\u200bass surv\u0435illance" (zero-width space, Cyrillic e) or "m4ss surv31ll4nc3".
"""

from __future__ import annotations

import re
import unicodedata

# Zero-width and formatting characters that render as nothing.
_INVISIBLE = dict.fromkeys(
    map(ord, "\u200b\u200c\u200d\u200e\u200f\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad\u180e"),
    None,
)

# Confusable letters (Cyrillic, Greek) folded to their Latin look-alikes, only where they
# disguise Latin text (see _fold_homoglyphs): Russian or Greek text is left as written.
_HOMOGLYPHS = str.maketrans(
    {
        "а": "a",
        "е": "e",
        "о": "o",
        "р": "p",
        "с": "c",
        "у": "y",
        "х": "x",
        "і": "i",
        "ј": "j",
        "ѕ": "s",
        "ԁ": "d",
        "ɡ": "g",
        "һ": "h",
        "ӏ": "l",
        "ո": "n",
        "ѵ": "v",
        "А": "A",
        "В": "B",
        "Е": "E",
        "К": "K",
        "М": "M",
        "Н": "H",
        "О": "O",
        "Р": "P",
        "С": "C",
        "Т": "T",
        "Х": "X",
        "У": "Y",
        "Ι": "I",
        "Α": "A",
        "Β": "B",
        "Ε": "E",
        "Ζ": "Z",
        "Η": "H",
        "Κ": "K",
        "Μ": "M",
        "Ν": "N",
        "Ο": "O",
        "Ρ": "P",
        "Τ": "T",
        "Υ": "Y",
        "Χ": "X",
        "ο": "o",
        "ν": "v",
        "α": "a",
        "ι": "i",
        "κ": "k",
        "ρ": "p",
        "τ": "t",
        "υ": "u",
        "ϲ": "c",
        "ԛ": "q",
        "ԝ": "w",
    }
)

_CONFUSABLE = frozenset(chr(c) for c in _HOMOGLYPHS)
_WORD = re.compile(r"[^\W\d_]+")

_LEET = str.maketrans(
    {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
)
# A token is leetspeak only when digits/symbols sit between letters ("m4ss", "k1ll"),
# so grid references and numbers stay intact.
_LEET_TOKEN = re.compile(r"\b(?=\w*[a-z])(?=\w*[013457@$])[a-z013457@$]{3,}\b", re.IGNORECASE)
_SPACES = re.compile(r"[ \t\r\f\v]+")


def _strip_controls(text: str) -> str:
    return "".join(
        ch for ch in text if ch in "\n\t" or unicodedata.category(ch) not in ("Cc", "Cf", "Cs")
    )


def _is_latin(ch: str) -> bool:
    return ch.isascii() or unicodedata.name(ch, "").startswith("LATIN")


def _fold_homoglyphs(text: str) -> str:
    """Fold look-alikes in words that mix them with Latin letters ("m\u0430ss"); fold a word
    made only of look-alikes ("\u0441\u0430\u0440") only where the text is mostly Latin. A
    Cyrillic or Greek word in Cyrillic or Greek text is a word, not a disguise."""

    if _CONFUSABLE.isdisjoint(text):  # nearly every request: skip the per-word passes
        return text

    def mixed(m: re.Match[str]) -> str:
        word = m.group(0)
        return word.translate(_HOMOGLYPHS) if any(map(_is_latin, word)) else word

    text = _WORD.sub(mixed, text)
    letters = [ch for ch in text if ch.isalpha()]
    if sum(map(_is_latin, letters)) * 2 < len(letters):
        return text
    return _WORD.sub(
        lambda m: (
            m.group(0).translate(_HOMOGLYPHS) if set(m.group(0)) <= _CONFUSABLE else m.group(0)
        ),
        text,
    )


def _fold_leet(text: str) -> str:
    return _LEET_TOKEN.sub(lambda m: m.group(0).translate(_LEET), text)


def normalize(text: str) -> str:
    """Fold text to the plain form the classifiers score. Idempotent."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(_INVISIBLE)
    text = _strip_controls(text)
    text = _fold_homoglyphs(text)
    text = _fold_leet(text)
    return _SPACES.sub(" ", text).strip()
