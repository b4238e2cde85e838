"""Aggregate rules over distinct surveillance subjects (SPEC.md, "Aggregate rules").

Mass surveillance is also many small lookups. This package finds the people a request is
about (`extract`, `names`), keeps only keyed hashes of them (`secret`), counts them per
principal and per deployment over sliding windows in the state store (`store`), and hands
the counts to the packs as Cedar context (`tally`). The Decider drives it (`counter`).
"""
