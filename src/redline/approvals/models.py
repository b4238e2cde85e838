"""The approval workflow's API shapes."""

from __future__ import annotations

from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class ApprovalState(StrEnum):
    """An approval is pending until decided or expired; only `approved` grants anything."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    EXPIRED = "expired"


class Vote(BaseModel):
    approver: str
    roles: list[str]
    vote: Literal["approve", "reject"]
    at: float
    comment: str = ""


class ApprovalSummary(BaseModel):
    id: str
    deployment: str
    requester: str
    subject_hash: str
    kind: str
    state: ApprovalState
    roles_required: list[str]
    approvers_needed: int
    approvals_so_far: int
    categories: dict[str, float]
    decided_by: list[dict[str, Any]]
    decision_index: int | None
    created_at: float
    expires_at: float
    decided_at: float | None = None
    redeemed: bool = False


class ApprovalDetail(ApprovalSummary):
    """With the model's rationale and the request content itself."""

    reason: str
    evidence: list[dict[str, Any]]
    release: dict[str, Any] | None
    content: dict[str, Any]
    # The model and parameters a held chat request goes upstream with; the approval binds
    # them as well as `content` (empty where nothing else is forwarded).
    bound: dict[str, Any] = Field(default_factory=dict)
    votes: list[Vote]
    reject_reason: str | None = None


class ApproveBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    comment: str = Field(default="", max_length=2000)


class RejectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class RedeemBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    token: str = Field(min_length=1, max_length=8192)
    # The action about to run: its hash must be the one the token binds.
    action: dict[str, Any]


class RedeemResult(BaseModel):
    redeemed: bool
    approval_id: str
    payload: dict[str, Any]


class ApproverStats(BaseModel):
    approver: str
    approved: int
    rejected: int
    approval_rate: float
    median_review_s: float | None
    fast_approvals: int  # faster than the minimum review time: rubber-stamping?


class HistogramBin(BaseModel):
    """Decisions that took at most `le` seconds and more than the bin before; `le` None:
    longer than every bound."""

    le: float | None
    count: int


class ApprovalStats(BaseModel):
    deployment: str | None
    total: int
    by_state: dict[str, int]
    median_time_to_decision_s: float | None
    p90_time_to_decision_s: float | None
    min_review_s: float
    approvers: list[ApproverStats]
    rubber_stamp_flags: list[dict[str, Any]]
    time_to_decision_histogram: list[HistogramBin] = Field(default_factory=list)
