"""Human control: are the people in the loop deciding, or stamping? The API's statistics,
charted on the server."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from redline.console.charts import approval_rate_chart, histogram_chart
from redline.console.web import PREFIX, SessionDep, render, services_of
from redline.gateway.routes import approvals as api

router = APIRouter(prefix=PREFIX, include_in_schema=False)


@router.get("/control")
async def control(request: Request, session: SessionDep) -> Response:
    stats = await api.approval_stats(services_of(request), session.principal, None)
    return render(
        request,
        "control.html",
        session,
        stats=stats,
        histogram=histogram_chart(stats.time_to_decision_histogram, stats.min_review_s),
        rates=approval_rate_chart(stats.approvers),
    )
