"""The people a request is about: exact rules for identifiers that have a format, and the
name heuristic (names.py) for names.

Identifiers are grouped into records (one tool-call argument object, or one line of text).
A record is one person where it holds at most one identifier of each kind: its subject is
then its strongest identifier (a name before a document number before an e-mail ...), and
the others describe the same person. A record with several names, or several identifiers
of one kind, is a list of people: each of them is a subject.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from redline.aggregate.names import normalize_name, person_names

# The order in which one person's identifiers are preferred as the subject's key.
KINDS = (
    "name",
    "document",
    "email",
    "phone",
    "imsi",
    "imei",
    "handle",
    "plate",
    "mac",
    "ip",
    "coordinates",
)

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
_PHONE = re.compile(
    r"(?<![\w+])(?:\+\d{1,3}[\s./-]?|00\d{1,3}[\s./-]?|\(0?\d{2,4}\)\s?|0)\d[\d\s./-]{5,14}\d(?!\w)"
)
_LONG_DIGITS = re.compile(r"(?<![\w.])(\d{15})(?![\w.])")
_MAC = re.compile(r"(?<![\w:-])(?:[0-9A-Fa-f]{2}[:-]){5}[0-9A-Fa-f]{2}(?![\w:-])")
_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])(?:[0-9A-Fa-f]{1,4}:){2,7}[0-9A-Fa-f:]{1,4}(?![\w:])")
_HANDLE = re.compile(r"(?<![\w@./])@([A-Za-z0-9_]{2,30})(?![\w@])")
_SSN = re.compile(r"(?<!\d)\d{3}-\d{2}-\d{4}(?!\d)")
_DOC_CUE = re.compile(
    r"\b(?:passport|id card|identity card|national id|document|driver'?s? licen[cs]e|"
    r"licen[cs]e|social security|ssn|tax id)\s*(?:no\.?|number|#|nr\.?)?\s*:?\s*"
    r"([A-Z0-9][A-Z0-9-]{4,14}[A-Z0-9])\b",
    re.I,
)
_PLATE_CUE = re.compile(
    r"\b(?:plates?|number plate|licen[cs]e plate|registration|reg\.?|vrn|kennzeichen)"
    r"\s*(?:no\.?|number|#)?\s*:?\s*([A-Z0-9][A-Z0-9 -]{1,8}[A-Z0-9])\b",
    re.I,
)
_PLATE_FORMS = re.compile(
    r"\b(?:[A-Z]{2}\d{2}\s?[A-Z]{3}|[A-ZÄÖÜ]{1,3}-[A-Z]{1,2}\s?\d{1,4}[EH]?)\b"
)
_LATLON = re.compile(r"(-?\d{1,2}\.\d{3,})\s*,\s*(-?\d{1,3}\.\d{3,})")
_PERSON_WORD = re.compile(
    r"\b(person|people|man|woman|men|women|he|she|him|her|his|suspect|subject|resident|"
    r"subscriber|individual|citizen|target|owner|driver|who)\b",
    re.I,
)
# Argument keys whose value is an identifier of a person, by kind.
_KEY_KINDS = (
    ("email", re.compile(r"e_?mail", re.I)),
    ("phone", re.compile(r"phone|msisdn|mobile|tel(ephone)?$|cell", re.I)),
    ("imsi", re.compile(r"imsi", re.I)),
    ("imei", re.compile(r"imei", re.I)),
    ("plate", re.compile(r"plate|registration|vrn", re.I)),
    ("handle", re.compile(r"handle|username|screen_?name|user_?id|account", re.I)),
    ("document", re.compile(r"passport|document|national_?id|ssn|id_?number|licen[cs]e", re.I)),
    (
        "name",
        re.compile(
            r"^((full_?|first_?|last_?|sur|given_?|family_?|person_?|subject_?|target_?|"
            r"suspect_?)name|name|person|subject|suspect|individual)$",
            re.I,
        ),
    ),
)


@dataclass(frozen=True)
class Identifier:
    kind: str  # one of KINDS
    value: str  # normalised: one spelling per identifier

    def key(self) -> str:
        return f"{self.kind}:{self.value}"


def _digits(text: str) -> str:
    return re.sub(r"[^\d+]", "", text)


def _luhn(number: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(number)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def _ips(text: str) -> Iterator[Identifier]:
    for m in [*_IPV4.finditer(text), *_IPV6.finditer(text)]:
        try:
            ip = ipaddress.ip_address(m.group(0))
        except ValueError:
            continue
        yield Identifier("ip", str(ip))


def _exact(text: str) -> list[Identifier]:
    """Every identifier with a format in one piece of text."""
    out: list[Identifier] = [Identifier("email", m.group(0).lower()) for m in _EMAIL.finditer(text)]
    text_wo_email = _EMAIL.sub(" ", text)
    out += [Identifier("handle", m.group(1).lower()) for m in _HANDLE.finditer(text_wo_email)]
    out += [Identifier("mac", m.group(0).lower().replace("-", ":")) for m in _MAC.finditer(text)]
    out += list(_ips(_MAC.sub(" ", text)))
    out += [Identifier("document", m.group(0)) for m in _SSN.finditer(text)]
    for m in _DOC_CUE.finditer(text):
        if any(c.isdigit() for c in m.group(1)):
            out.append(Identifier("document", m.group(1).upper()))
    for m in _LONG_DIGITS.finditer(text):
        before = text[max(0, m.start() - 24) : m.start()].lower()
        kind = (
            "imsi"
            if "imsi" in before
            else "imei"
            if "imei" in before or _luhn(m.group(1))
            else "imsi"
        )
        out.append(Identifier(kind, m.group(1)))
    rest = _LONG_DIGITS.sub(" ", _SSN.sub(" ", _IPV4.sub(" ", text)))
    for m in _PHONE.finditer(rest):
        digits = _digits(m.group(0))
        if 8 <= len(digits.lstrip("+")) <= 15 and not _LATLON.search(m.group(0)):
            out.append(Identifier("phone", digits))
    plates = {m.group(1) for m in _PLATE_CUE.finditer(text)} | {
        m.group(0) for m in _PLATE_FORMS.finditer(text)
    }
    out += [
        Identifier("plate", re.sub(r"[\s-]", "", p).upper())
        for p in plates
        if any(c.isdigit() for c in p) and any(c.isalpha() for c in p)
    ]
    return out


def _coordinates(text: str) -> list[Identifier]:
    return [
        Identifier("coordinates", f"{float(m.group(1)):.4f},{float(m.group(2)):.4f}")
        for m in _LATLON.finditer(text)
    ]


def identifiers_in_text(text: str) -> list[Identifier]:
    """Names and formatted identifiers in a piece of free text."""
    found = [Identifier("name", normalize_name(n)) for n in person_names(text)]
    found += _exact(text)
    if _PERSON_WORD.search(text):
        found += _coordinates(text)
    return found


def _keyed(key: str, value: str) -> list[Identifier]:
    """An argument whose key says what its value is (a `phone`, a `name`)."""
    for kind, pattern in _KEY_KINDS:
        if pattern.search(key):
            if kind == "name":
                return [Identifier("name", normalize_name(value))] if value.strip() else []
            clean = value.strip()
            if not clean or clean in ("*", "%"):
                return []
            norm = _digits(clean) if kind in ("phone", "imsi", "imei") else clean.lower()
            return [Identifier(kind, norm.lstrip("@"))] if norm else []
    return []


@dataclass(frozen=True)
class Record:
    """Identifiers that appear together: one tool-call argument object, or one line."""

    identifiers: tuple[Identifier, ...]

    def subjects(self) -> list[Identifier]:
        unique = list(dict.fromkeys(self.identifiers))
        kinds = [i.kind for i in unique]
        if len(kinds) == len(set(kinds)):  # one of each kind: one person
            best = min(unique, key=lambda i: KINDS.index(i.kind)) if unique else None
            return [best] if best else []
        return unique


def _object_records(obj: dict[str, Any]) -> Iterator[Record]:
    found: list[Identifier] = []
    for key, value in obj.items():
        if isinstance(value, dict):
            yield from _object_records(value)
        elif isinstance(value, list):
            for item in value:
                if isinstance(item, dict):
                    yield from _object_records(item)
                elif isinstance(item, str):
                    keyed = _keyed(str(key), item)
                    yield Record(tuple(keyed or identifiers_in_text(item)))
        elif isinstance(value, str):
            found += _keyed(str(key), value) or identifiers_in_text(value)
        elif isinstance(value, int) and not isinstance(value, bool):
            found += _keyed(str(key), str(value))
    if found:
        yield Record(tuple(found))


def records_of_arguments(arguments: dict[str, Any]) -> list[Record]:
    return list(_object_records(arguments))


def records_of_text(text: str) -> list[Record]:
    return [Record(tuple(ids)) for line in text.splitlines() if (ids := identifiers_in_text(line))]


def subjects_of(records: list[Record]) -> list[Identifier]:
    """The distinct subjects of a request's records."""
    return list(dict.fromkeys(s for r in records for s in r.subjects()))
