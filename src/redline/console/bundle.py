"""The ledger's export bundle as a zip download.

A bundle holds every entry of the log (it verifies only whole), so it goes to an admin, or
to an auditor when every entry belongs to the auditor's own deployment: the ledger API
shows an entry only to its deployment's auditors, and the bundle keeps that rule.
"""

from __future__ import annotations

import io
import json
import tempfile
import zipfile
from pathlib import Path

from fastapi.responses import Response

from redline.auth.principal import Principal
from redline.errors import ForbiddenError, StoreError
from redline.gateway.deps import require_role
from redline.gateway.services import Services
from redline.gateway.threads import in_thread
from redline.ledger.bundle import export_bundle
from redline.ledger.note import Verifier
from redline.ledger.store import LedgerStore

AUDIT_ROLES = ("auditor", "admin")


def ledger_store(services: Services) -> LedgerStore:
    if not isinstance(services.store, LedgerStore):
        raise StoreError("this server's decision store is not a Merkle ledger")
    return services.store


def _foreign_entry(folder: Path, deployment: str) -> int | None:
    """The index of the first entry of another deployment, if any."""
    with (folder / "entries.jsonl").open("rb") as f:
        for i, line in enumerate(f):
            if json.loads(line).get("deployment") != deployment:
                return i
    return None


def build_zip(store: LedgerStore, principal: Principal, verifier: str) -> bytes:
    """1. export the bundle; 2. an auditor's must hold only their deployment's entries;
    3. zip it."""
    with tempfile.TemporaryDirectory(prefix="redline-bundle-") as tmp:
        folder = Path(tmp)
        export_bundle(store, folder, Verifier.parse(verifier) if verifier else None)
        if not principal.is_admin:
            foreign = _foreign_entry(folder, principal.deployment)
            if foreign is not None:
                raise ForbiddenError(
                    f"the ledger holds entries of other deployments (entry {foreign} is one): "
                    "only an admin may export the whole bundle"
                )
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            for path in sorted(folder.iterdir()):
                z.write(path, f"redline-bundle/{path.name}")
    return out.getvalue()


async def bundle_response(services: Services, principal: Principal, verifier: str) -> Response:
    require_role(principal, *AUDIT_ROLES)
    data = await in_thread(build_zip, ledger_store(services), principal, verifier)
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": 'attachment; filename="redline-bundle.zip"'},
    )
