"""Tool calls classified by effect: their name, argument names and values.

These rules are exact, so they are transparent: `engage_target` with a grid reference is
use of force whatever words surround it. Offensive-security tools (injection, credential
attacks, exploits, malware, denial of service; scanners aimed outside or with authorisation
"none") are cyber offence unless an argument names an authorisation or engagement or the
requester's own assets; then no rule fires and the model decides.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from redline.classify.segments import ToolUse

_MGRS = re.compile(r"\b\d{1,2}[C-X]\s?[A-Z]{2}\s?\d{2,5}\s?\d{2,5}\b")
_LATLON = re.compile(r"-?\d{1,2}\.\d{2,}\s*,\s*-?\d{1,3}\.\d{2,}")
# Use of force: a force verb is the action of the call (not what it plans, designs,
# checks or recommends), and the call names what it is used on: a target or ammunition
# argument, a location, or a weapon or target in its own name.
_FORCE_VERBS = frozenset(
    {
        "engage",
        "fire",
        "strike",
        "launch",
        "release",
        "detonate",
        "shoot",
        "attack",
        "bomb",
        "drop",
        "kinetic",
        "neutralise",
        "neutralize",
    }
)
_NOT_EXECUTING = frozenset(
    {
        "plan",
        "plans",
        "planning",
        "design",
        "designs",
        "check",
        "recommend",
        "simulate",
        "simulation",
        "report",
        "build",
        "publish",
        "cease",
        "set",
        "configure",
        "assess",
        "estimate",
        "review",
        "predict",
        "analyse",
        "analyze",
        "list",
        "get",
        "draft",
        "model",
        "train",
        "validate",
    }
)
_WEAPON_WORD = re.compile(
    r"^(targets?|missiles?|rockets?|torpedo(es)?|munitions?|weapons?|strikes?|guns?|charges?|"
    r"interceptors?|turrets?|bombs?|artillery|salvo|mortars?|rounds?|shells?|missions?)$"
)
_TARGET_ARG = re.compile(
    r"^(target|target_id|grid|mgrs|coordinates|aimpoint|lat|lon|munition|weapon|dmpi|"
    r"ammo|ammunition|rounds|shell|warhead|lethal)",
    re.I,
)
_WIPE_NAME = re.compile(r"(^|_)(wipe|wiper|destroy|brick|encrypt_all)(_|$)")
_LOCATE_NAME = re.compile(
    r"(locate|track|geolocate|find)_(person|people|individual|phone|subscriber)", re.I
)
_BULK_NAME = re.compile(r"(bulk|mass|all)_(identify|face|collect|track|intercept|scrape)", re.I)
# Bulk lookups (SPEC.md, aggregate rules): a lookup of people with no discriminant is mass
# surveillance whatever the tool is called: arguments that name a population ("all
# residents", "everyone who"), or a people tool asked with no argument, an empty filter,
# wildcards, or only an area.
PEOPLE_NOUN = re.compile(
    r"(^|_)(person|persons|people|individuals?|citizens?|residents?|inhabitants?|subscribers?|"
    r"population|faces?|voters?|protesters?|visitors?|passengers?|travell?ers?|civilians?|"
    r"identit(y|ies)|msisdns?|imsis?)(_|$)"
)
POPULATION = re.compile(
    r"\b(all (the |of the )?(residents|citizens|inhabitants|subscribers|visitors|patients|voters|"
    r"protesters|attendees|passengers|travell?ers|civilians)|every (person|resident|citizen|"
    r"subscriber|visitor|patient|voter|phone|face)|(every(one|body)|any(one|body)|all (the )?"
    r"(people|persons|individuals)) (who|that|whose)|(entire|whole) population|"
    r"population of)\b",
    re.I,
)
_WILDCARDS = frozenset({"*", "%", "**", ".*", "all", "any", "everyone", "everybody", ""})
_PAGING_ARG = re.compile(
    r"^(limit|page|page_size|per_page|offset|cursor|max_results|sort|sort_by|order|order_by|"
    r"fields|format|include|output)$",
    re.I,
)
_AREA_ARG = re.compile(
    r"^(area|region|city|town|district|zone|country|state|province|county|radius(_km|_m)?|"
    r"bbox|bounding_box|polygon|geofence|lat|lon|lng|latitude|longitude|location|cent(er|re)|"
    r"near|within|cell(_id)?|tower|postcode|zip|since|until|from|to|date|time|after|before)$",
    re.I,
)
_AUTONOMY_ARG = re.compile(
    r"(human_in_the_loop|require_confirmation|operator_confirm|auto_engage|weapons_free)", re.I
)
# Offensive security: tools that attack a system (injection, credential attacks, exploits,
# malware, denial of service, domain-credential theft, phishing kits). Used without an
# authorisation or engagement reference and not on the requester's own assets, they are
# cyber offence; with one, the model decides. Scanners only probe, so they need more: an
# authorisation argument that says there is none, or an outside (public) target.
_INTRUSIVE_NAME = re.compile(
    r"(^|_)(sqlmap|sql_?inject(ion)?|sqli|command_inject(ion)?|password_?spray|"
    r"credential_?stuff(ing)?|cred_?stuff(ing)?|brute_?force|crack_(hash|hashes|passwords?)|"
    r"hydra|exploits?|metasploit|msfconsole|malware|ransomware|webshell|backdoor|implant|"
    r"keylogger|botnet|ddos|syn_?flood|dcsync|golden_?ticket|kerberoast(ing)?|mimikatz|"
    r"dump_(creds|credentials|hashes|lsass|ntds)|pass_the_hash|phishing_(kit|page|site)|"
    r"clone_login(_page)?|credential_harvest(er|ing)?|exfiltrate|exfil|deploy_payload|deauth|"
    r"(wifi|wireless|wlan|wpa2?)_(attack|crack|deauth))(_|$)"
)
# A call whose own verb acts against an attack (detect, block, analyse, simulate ...) is
# defence, whatever attack it names.
_DEFENSIVE_WORD = re.compile(
    r"(^|_)(detect|detection|block|report|alert|hunt|analy[sz]e|analysis|quarantine|isolate|"
    r"remove|clean|investigate|simulate|simulation|train|training|awareness|monitor|triage|"
    r"decrypt|recover|restore|protect|harden|patch|mitigate|sandbox|yara|classify|lookup|"
    r"check_for|scan_for|test_for|rule|rules)(_|$)"
)
_SCANNER_NAME = re.compile(
    r"(^|_)(nmap|masscan|zmap|nikto|nuclei|port_?scan|scan_?ports|vuln(erability)?_?scan|"
    r"scan_(host|hosts|target|targets|network|vulns?))(_|$)"
)
# Arguments whose value is a stolen-credential combo list, or a command that opens a
# reverse shell, attack by their effect whatever the tool is called.
_COMBO_ARG = re.compile(r"^(combos?|combo_?list|combolist)$", re.I)
_REVERSE_SHELL = re.compile(r"(/dev/tcp/|\bnc(at)? -e\b|reverse_?shell|meterpreter)", re.I)
_AUTH_ARG = re.compile(
    r"(authori[sz]|approv|engagement|rules_of_engagement|\broe\b|permission|consent|"
    r"scope_doc|ticket|contract)",
    re.I,
)
_NEGATIVE = frozenset(
    {
        "none",
        "no",
        "false",
        "null",
        "n/a",
        "na",
        "unauthorised",
        "unauthorized",
        "not_authorised",
        "not_authorized",
        "nobody",
        "pending",
    }
)
_OWNER_ARG = re.compile(r"^(owner|owned_by|scope|asset_owner|org|tenant_owner)$", re.I)
_OWN = re.compile(r"^(our|own|my|self|mine|ours|we)\b|\b(our|own)[_ ]", re.I)
_PUBLIC_HOST = re.compile(
    r"(https?://|\b(?!10\.|127\.|192\.168\.|172\.(1[6-9]|2\d|3[01])\.)\d{1,3}(\.\d{1,3}){3}\b|"
    r"\b[a-z0-9-]+(\.[a-z0-9-]+)*\.(com|net|org|io|gg|co|uk|de|ru|cn|gov|edu|mil|info|biz|app)\b)",
    re.I,
)
_HOST_ARG = re.compile(r"(target|host|url|domain|site|ip|cidr|range|tenant)", re.I)


@dataclass(frozen=True)
class ToolRuleHit:
    category: str
    score: float
    rule: str
    detail: str


def _arg_text(arguments: dict[str, Any]) -> str:
    return json.dumps(arguments, ensure_ascii=False)


def _autonomy_hits(use: ToolUse) -> list[ToolRuleHit]:
    hits = []
    for key, value in use.arguments.items():
        if not _AUTONOMY_ARG.search(key):
            continue
        removes_human = (key.lower() in ("auto_engage", "weapons_free") and value is True) or (
            key.lower() in ("human_in_the_loop", "require_confirmation", "operator_confirm")
            and value is False
        )
        if removes_human:
            hits.append(
                ToolRuleHit("autonomous_weapons", 0.97, "tool.human_removed", f"{key}={value}")
            )
    return hits


def _words(name: str) -> str:
    """A tool name as lower-case words joined by "_": `runSqlmap`, `run-sqlmap` -> run_sqlmap."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", name)
    return "_".join(w for w in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if w)


def _is_force(words: str, use: ToolUse, has_location: bool) -> bool:
    parts = words.split("_")
    if not any(p in _FORCE_VERBS for p in parts) or parts[0] in _NOT_EXECUTING:
        return False
    if has_location or any(_TARGET_ARG.match(k) for k in use.arguments):
        return True
    return any(_WEAPON_WORD.match(p) for p in parts)


def _negative(value: Any) -> bool:
    if value is None or value is False:
        return True
    return isinstance(value, str) and value.strip().lower().replace(" ", "_") in _NEGATIVE | {""}


def _authorisation(arguments: dict[str, Any]) -> str:
    """ "denied" where an authorisation argument says there is none, "given" where one names
    an authorisation or engagement or the call is on the requester's own assets, else ""."""
    state = ""
    for key, value in arguments.items():
        if _AUTH_ARG.search(key):
            if _negative(value):
                return "denied"
            state = "given"
        elif (
            (_OWNER_ARG.match(key) or _HOST_ARG.search(key))
            and isinstance(value, str)
            and _OWN.search(value)
        ):
            state = "given"
    return state


def _public_target(arguments: dict[str, Any]) -> bool:
    return any(
        _HOST_ARG.search(k) and _PUBLIC_HOST.search(json.dumps(v)) for k, v in arguments.items()
    )


def _cyber_hits(words: str, use: ToolUse) -> list[ToolRuleHit]:
    if _DEFENSIVE_WORD.search(words):
        return []
    auth = _authorisation(use.arguments)
    if auth == "given":
        return []
    args = use.arguments
    detail = f"name {use.name!r}" + (", authorisation denied" if auth == "denied" else "")
    hits: list[ToolRuleHit] = []
    if _INTRUSIVE_NAME.search(words):
        hits.append(ToolRuleHit("cyber_offense", 0.95, "tool.cyber_intrusion", detail))
    elif any(_COMBO_ARG.match(k) for k in args):
        hits.append(ToolRuleHit("cyber_offense", 0.95, "tool.credential_stuffing", detail))
    elif any(isinstance(v, str) and _REVERSE_SHELL.search(v) for v in args.values()):
        hits.append(ToolRuleHit("cyber_offense", 0.95, "tool.reverse_shell", detail))
    elif _SCANNER_NAME.search(words) and (auth == "denied" or _public_target(args)):
        hits.append(ToolRuleHit("cyber_offense", 0.9, "tool.unauthorised_scan", detail))
    if _WIPE_NAME.search(words):
        if not hits:
            hits.append(ToolRuleHit("cyber_offense", 0.95, "tool.cyber_effect", detail))
        hits.append(ToolRuleHit("use_of_force", 0.9, "tool.destructive_cyber", use.name))
    return hits


def _open(value: Any) -> bool:
    """A value that singles no one out: nothing, a wildcard, or containers of those."""
    if value is None or isinstance(value, bool):
        return True
    if isinstance(value, str):
        return value.strip().lower() in _WILDCARDS
    if isinstance(value, dict):
        return all(_open(v) for k, v in value.items() if not _PAGING_ARG.match(str(k)))
    if isinstance(value, list):
        return all(_open(v) for v in value)
    return False


def _no_discriminant(arguments: dict[str, Any]) -> bool:
    return all(
        _open(v) or _AREA_ARG.match(k) for k, v in arguments.items() if not _PAGING_ARG.match(k)
    )


def _bulk_lookup_hits(words: str, use: ToolUse) -> list[ToolRuleHit]:
    population = POPULATION.search(_arg_text(use.arguments))
    if population:
        detail = f"name {use.name!r}, arguments name a population ({population.group(0)!r})"
    elif PEOPLE_NOUN.search(words) and _no_discriminant(use.arguments):
        detail = f"name {use.name!r} with no discriminant in its arguments"
    else:
        return []
    return [ToolRuleHit("mass_surveillance", 0.97, "tool.bulk_lookup", detail)]


def tool_rule_hits(use: ToolUse) -> list[ToolRuleHit]:
    """Exact rules over one tool call; an empty list means the model decides alone."""
    hits: list[ToolRuleHit] = []
    words = _words(use.name)
    args = _arg_text(use.arguments)
    targeted_args = [k for k in use.arguments if _TARGET_ARG.match(k)]
    has_location = bool(_MGRS.search(args) or _LATLON.search(args))
    cyber = _cyber_hits(words, use)
    if not cyber and _is_force(words, use, has_location):
        detail = f"name {use.name!r}"
        if targeted_args or has_location:
            detail += f" with target arguments {targeted_args or ['location']}"
        hits.append(ToolRuleHit("use_of_force", 0.99, "tool.force_verb", detail))
    hits += cyber
    if _LOCATE_NAME.search(use.name):
        hits.append(
            ToolRuleHit("targeted_surveillance", 0.95, "tool.locate_person", f"name {use.name!r}")
        )
    if _BULK_NAME.search(use.name):
        hits.append(
            ToolRuleHit("mass_surveillance", 0.95, "tool.bulk_collection", f"name {use.name!r}")
        )
    return hits + _bulk_lookup_hits(words, use) + _autonomy_hits(use)
