"""The classification budget: what one request, and one principal per minute, may ask the
classifier to read. Classification costs time in proportion to what it reads, so a request
over the budget is refused before any model runs (issue 18):

- per request, its characters (the request as decided, as JSON) and its messages: 413
  `classification_budget_exceeded`;
- per principal, a token bucket of classified characters: 429 `classification_rate_exceeded`
  with Retry-After.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

from redline.errors import RedlineError
from redline.gateway.security import RateLimited, TokenBuckets
from redline.settings import Settings
from redline.subject import Subject


class BudgetExceeded(RedlineError):
    code = "classification_budget_exceeded"
    status = 413


class ClassificationRateLimited(RateLimited):
    code = "classification_rate_exceeded"

    def __init__(self, chars: int, retry_after: float) -> None:
        super().__init__(retry_after)
        self.args = (
            f"this principal's classification budget is spent: {chars} characters asked; "
            f"retry after {math.ceil(retry_after)} s",
        )


@dataclass(frozen=True)
class Size:
    chars: int
    messages: int


def size_of(subject: Subject) -> Size:
    """What the classifier will read: the request as decided, in characters of its JSON."""
    chars = len(json.dumps(subject.content_json(), ensure_ascii=False))
    return Size(chars, len(subject.messages or ()))


class ClassificationBudget:
    def __init__(self, settings: Settings) -> None:
        self.max_chars = settings.max_classified_chars
        self.max_messages = settings.max_classified_messages
        # A bucket smaller than one request's limit would refuse such a request for ever.
        burst = float(max(settings.classified_chars_burst, self.max_chars))
        self.buckets = TokenBuckets(settings.classified_chars_per_minute, burst)

    def charge(self, principal: str, subject: Subject) -> None:
        """1. Refuse a request over the per-request limits (413).
        2. Take its characters from the principal's bucket, or refuse (429)."""
        size = size_of(subject)
        if size.messages > self.max_messages:
            raise BudgetExceeded(
                f"the request has {size.messages} messages; at most {self.max_messages} "
                "are classified per request"
            )
        if size.chars > self.max_chars:
            raise BudgetExceeded(
                f"the request has {size.chars} characters to classify; at most "
                f"{self.max_chars} are classified per request"
            )
        wait = self.buckets.take(principal, float(size.chars))
        if wait > 0:
            raise ClassificationRateLimited(size.chars, wait)
