"""Person names in free text: a transparent heuristic, no model.

A name is a run of two to four capitalised words (particles such as "van", "de", "al"
may sit inside), after the sentence-opening and common words at its front are dropped,
with no word that marks a place, an organisation or a thing, not after "the", and not a
title-cased heading. A single capitalised word is a name only after a title ("Dr Keller").
Latin, Cyrillic and Greek scripts only; names in lower case, in capitals or in other
scripts are not found (docs/aggregates.md gives the measured recall).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UPPER = "A-ZÀ-ÖØ-ÞА-ЯЁΑ-Ω"
_LOWER = "a-zß-öø-ÿа-яёα-ω"
_WORD = rf"(?:[{_UPPER}][{_LOWER}]+(?:['’\-][{_UPPER}{_LOWER}][{_LOWER}]+)*|O['’][A-Z][a-z]+)"
_PARTICLE = r"(?:van|von|de|der|den|del|della|di|da|du|le|la|al|el|bin|ibn|ter|ten|dos|das|y)"
_RUN = re.compile(rf"(?<![\w@.])({_WORD}(?:\s+(?:{_PARTICLE}\s+)*{_WORD}){{0,5}})(?![\w@])")
_TITLES = (
    r"(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sgt|Capt|Col|Lt|Maj|Gen|Cpl|Pte|Rev|Sir|Dame|Herr|Frau|"
    r"Mme|Mlle|Sr|Sra|Senor|Señor|Señora)"
)
_TITLE = re.compile(rf"\b(?:{_TITLES}\.?\s+)+((?:{_WORD})(?:\s+(?:{_PARTICLE}\s+)*{_WORD}){{0,3}})")
_TITLE_WORD = re.compile(rf"^{_TITLES}$")
# Capitalised words that open a sentence or a request, and other common words that are
# never part of a name; dropped from the front of a run (and a run of only these is none).
_COMMON_WORDS = """
    a an the this that these those he she they we i you it his her their our my your please
    kindly can could would will shall should may might must do does did is are was were be
    been has have had and or but if when where who whom whose which what why how find look
    lookup search get give show list tell pull fetch check run query locate track trace
    identify compile build make send write draft summarise summarize translate review
    confirm verify resolve enrich map monitor watch follow report update add create open
    also then next now today tomorrow yesterday after before during while for from with
    about on in at by to of into over under here there all any every each some no not
    subject target suspect person people resident citizen subscriber user customer patient
    contact employee visitor driver passenger owner individual account profile record
    records details information info data address phone email number name names hi hello
    dear thanks thank regards best yes ok okay good great monday tuesday wednesday thursday
    friday saturday sunday january february march april june july august september october
    november december mr mrs ms dr prof connect remind call ask thank share compare email
    contact notify invite meet visit pay print book buy schedule assign message text ping
    brief inform interview hire introduce grandma grandpa granny uncle aunt cousin
"""
COMMON = frozenset(_COMMON_WORDS.split())
# Words that make a run a place, an organisation, an event or a thing, not a person.
_NOT_PERSON_WORDS = """
    street st road rd avenue ave lane boulevard square place park bridge river lake mountain
    hill valley island bay coast north south east west central city town village county
    state province region district airport station port harbour harbor base camp fort
    hospital clinic school university college academy institute center centre museum library
    church mosque temple hotel restaurant cafe bar market mall tower building hall house
    office ministry department agency bureau council committee commission parliament
    congress senate court police army navy air force forces corps command brigade battalion
    regiment division squadron fleet unit group company corporation corp inc ltd llc gmbh ag
    plc bank fund foundation association union party network systems services technologies
    solutions labs international national federal republic kingdom empire united nations
    european union states america africa asia europe ocean sea operation project program
    programme protocol act law treaty convention day week month year monday tuesday
    wednesday thursday friday saturday sunday january february march april june july august
    september october november december google microsoft apple amazon facebook meta twitter
    openai linux windows python java excel word powerpoint christmas easter ramadan mount
    room restaurant fleet
"""
NOT_PERSON = frozenset(_NOT_PERSON_WORDS.split())


def _words(run: str) -> list[str]:
    return run.split()


@dataclass(frozen=True)
class _Run:
    """A run of capitalised words with what was dropped around it."""

    words: list[str]
    lead: list[str]  # common words dropped from the front
    tail: list[str]  # common words dropped from the end


def _strip_common(words: list[str]) -> _Run:
    start, end = 0, len(words)
    while start < end and (words[start].lower() in COMMON or _TITLE_WORD.match(words[start])):
        start += 1
    while end > start and words[end - 1].lower() in COMMON:
        end -= 1
    return _Run(words[start:end], words[:start], words[end:])


def _next_word(text: str, end: int) -> str:
    m = re.match(r"\s+([\w'’-]+)", text[end:])
    return m.group(1).lower() if m else ""


def _previous_word(text: str, start: int) -> str:
    m = re.search(r"([\w'’-]+)\s+$", text[:start])
    return m.group(1).lower() if m else ""


def _is_name(run: _Run, before: str, after: str) -> bool:
    """Two to four capitalised words; not a place, an organisation, a thing ("the Black
    Hawk fleet") or a title-cased heading ("Quarterly Sales Report")."""
    capitals = [w for w in run.words if w[0].isupper()]
    if not 2 <= len(capitals) <= 4:
        return False
    if any(w.lower().strip("'’") in NOT_PERSON for w in run.words) or after in NOT_PERSON:
        return False
    if "the" in (before, *(w.lower() for w in run.lead[-1:])):
        return False
    return not run.tail  # a capitalised common word after it: a heading, not a name


def person_names(text: str) -> list[str]:
    """The person names in `text`, as written (normalise with `normalize_name`)."""
    found: dict[str, None] = {}
    for m in _TITLE.finditer(text):
        words = _strip_common(_words(m.group(1))).words
        if words and not any(w.lower() in NOT_PERSON for w in words):
            found[" ".join(words)] = None
    for m in _RUN.finditer(text):
        run = _strip_common(_words(m.group(1)))
        before, after = _previous_word(text, m.start()), _next_word(text, m.end())
        if _is_name(run, before, after):
            name = " ".join(run.words)
            if not any(name in other or other in name for other in found):
                found[name] = None
    return list(found)


def normalize_name(name: str) -> str:
    """One spelling per name: case-folded, single spaces, no title or trailing dots."""
    name = _TITLE_PREFIX.sub("", name.strip())
    return " ".join(name.replace("’", "'").casefold().split()).strip(".")


_TITLE_PREFIX = re.compile(
    r"^(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sgt|Capt|Col|Lt|Maj|Gen|Cpl|Pte|Rev|Sir|Dame|Herr|Frau|"
    r"Mme|Mlle|Sr|Sra)\.?\s+",
    re.I,
)
