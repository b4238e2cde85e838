"""ledger: every decision and approval event, provable to an auditor who trusts nobody."""
