"""The transparent rule backend: keyword patterns per category, and the exact tool rules.

It is the first backend and the model's fallback for exact cases. Its patterns are
deliberately readable: each hit is evidence that names the pattern that fired.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from redline.classify.segments import segments, tool_uses
from redline.classify.tools import tool_rule_hits
from redline.classify.types import CategoryScore, Classification, Evidence
from redline.subject import Subject
from redline.taxonomy import CATEGORIES

# Idioms that sound violent but are not ("kill the process", "shoot me an email").
_BENIGN = re.compile(
    r"\b(kill(ing|ed)? (the |a |this |that )?(hung |stuck |zombie |background )?"
    r"(process|job|task|thread|server|container|session|pod|tab|app)"
    r"|shoot (me|him|her|them|us) (an?|the) (email|message|note|text|line|dm)"
    r"|fire (up|off) (the|an?) (email|browser|editor|server|terminal|build|message)"
    r"|nuke (the|my) (cache|build|node_modules|database|branch|folder)"
    r"|target (audience|market|date|language|platform|branch|directory|python))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class KeywordRule:
    category: str
    name: str
    pattern: re.Pattern[str]
    score: float


def _rule(category: str, name: str, pattern: str, score: float) -> KeywordRule:
    return KeywordRule(category, name, re.compile(pattern, re.IGNORECASE), score)


RULES: tuple[KeywordRule, ...] = (
    _rule(
        "mass_surveillance",
        "population_scale",
        r"\b(every(one|body)|all (the )?(residents|citizens|voters|people|protesters|users|"
        r"subscribers|phones)|entire (population|city)|whole (city|population)|population[- ]scale|"
        r"social (credit|scor))",
        0.55,
    ),
    _rule(
        "mass_surveillance",
        "bulk_identification",
        r"\b(face[- ]?(match|recogni[sz]\w*)|bulk (collection|intercept)|dragnet|"
        r"loyalty scores?|track (all|every))",
        0.6,
    ),
    _rule(
        "targeted_surveillance",
        "singled_out_person",
        r"\b(where (does )?(this|that) (person|man|woman|guy) lives?|find (his|her) (home|address)|"
        r"call records|geolocate (him|her|the suspect)|identify the (man|woman|person) in|"
        r"track (him|her|the suspect|this person)|home address of|dossier on)",
        0.85,
    ),
    _rule(
        "target_development",
        "targeting",
        r"\b(target (folder|package|list|nomination|deck)s?|rank .*(targets?|sites) for|"
        r"targeting board|weaponeer\w*|collateral[- ]damage estimate|high[- ]value targets?|"
        r"strike list|aim ?points?)\b",
        0.85,
    ),
    _rule(
        "autonomous_weapons",
        "human_removed",
        r"\b((without|no|remove|bypass|skip|disable)( the)? (human|operator)( \w+)? "
        r"(confirmation|approval|in the loop|input|decision)|fires? (automatically|autonomously)|"
        r"auto[- ]?engage|weapons[- ]free mode|autonomous(ly)? (engage|kill|strike|target))",
        0.9,
    ),
    _rule(
        "use_of_force",
        "fire_order",
        r"\b(fire for effect|engage (the )?target|cleared (hot|to engage)|release (the )?weapons?|"
        r"launch (the )?(missile|strike)|execute (the )?strike|commence (fire|strike)|"
        r"drop (the )?(bomb|payload)|weapons release)\b",
        0.9,
    ),
    _rule(
        "weapons_development",
        "weapon_design",
        r"\b(shaped charge|guidance law|warhead|fuz(e|ing) design|"
        r"increase (the )?(range|lethality)|"
        r"munition design|improve .*(missile|munition|rifle|warhead)|explosively formed)",
        0.8,
    ),
    _rule(
        "cbrn_weapons",
        "cbrn",
        r"\b(nerve agent|sarin|vx\b|novichok|weaponi[sz]\w* (anthrax|a pathogen|smallpox)|"
        r"more transmissible|gain[- ]of[- ]function|enrich(ed)? uranium to weapons|"
        r"dirty bomb|synthesi[sz]\w* (sarin|mustard gas|ricin))",
        0.9,
    ),
    _rule(
        "cyber_offense",
        "intrusion",
        r"\b(write (an? )?(exploit|malware|ransomware|wiper|worm)|zero[- ]day|reverse shell|"
        r"break into (their|the enemy|the adversary)|ddos|phishing kit|"
        r"privilege escalation on their|"
        r"exfiltrat\w+ (data )?from (their|the enemy))",
        0.85,
    ),
    _rule(
        "influence_operations",
        "covert_influence",
        r"\b(fake (personas?|accounts|profiles|news|local news)|sock ?puppets?|astroturf\w*|"
        r"disinformation campaign|bot ?network|impersonat\w+ (a|the) (journalist|official))",
        0.85,
    ),
    _rule(
        "harmful_content",
        "harm",
        r"\b(poison (my|a|the) (neighbou?r|wife|husband|boss)|scam email|hurt (myself|someone)|"
        r"how (do i|to) (kill|murder) (my|a) |make (a )?pipe bomb|launder money)",
        0.85,
    ),
    _rule(
        "foreign_intelligence",
        "foreign_analysis",
        r"\b(order of battle|threat assessment|open[- ]source intelligence|osint|"
        r"foreign (forces|military|ministry)|shipping lanes)\b",
        0.7,
    ),
    _rule(
        "defensive_security",
        "defence",
        r"\b(siem|detection rules?|harden\w*|patch(es|ing)?|counter[- ]drone|intrusion detection|"
        r"incident response|our (own )?network)\b",
        0.7,
    ),
    _rule(
        "operations_support",
        "ops",
        r"\b(logistics|convoy|fuel plan|maintenance|translate|leave policy|personnel|"
        r"supply|rations|schedule)\b",
        0.6,
    ),
)


class RuleClassifier:
    """Keyword and tool rules; every score is the strongest rule that fired."""

    version = "rules-v1"

    def classify(self, subject: Subject) -> Classification:
        best: dict[str, CategoryScore] = {}

        def offer(category: str, score: float, evidence: Evidence) -> None:
            current = best.get(category)
            if current is None or score > current.score:
                best[category] = CategoryScore(category, score, (evidence,))

        for seg in segments(subject):
            text = _BENIGN.sub(" ", seg.text)
            for rule in RULES:
                if m := rule.pattern.search(text):
                    offer(
                        rule.category,
                        rule.score,
                        Evidence(f"rule:{rule.name}", seg.where, m.group(0)[:80]),
                    )
        for use in tool_uses(subject):
            for hit in tool_rule_hits(use):
                offer(hit.category, hit.score, Evidence(f"rule:{hit.rule}", use.where, hit.detail))
        restricted = any(c not in ("general",) for c in best)
        scores = {c: best.get(c, CategoryScore(c, 0.0)) for c in CATEGORIES}
        if not restricted:
            scores["general"] = CategoryScore("general", 0.9, (Evidence("rule:default"),))
        return Classification(scores=scores, classifier=self.version)

    def classify_batch(self, subjects: Sequence[Subject]) -> list[Classification]:
        return [self.classify(s) for s in subjects]
