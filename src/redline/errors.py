"""The exception tree. Every error Redline raises on purpose derives from RedlineError.

RedlineError
├── InputError              bad input from a client: answered 4xx, never 500
│   ├── UnknownCategoryError
│   └── UnknownPolicyError
├── PolicyError             a pack failed to load or validate
├── EvaluationError         the policy engine could not decide (fail closed: deny)
├── ClassifierError         the classifier could not score (fail closed: deny)
├── StoreError              the ledger could not record durably (fail closed: deny)
├── AuthError               missing, wrong or revoked credentials (401)
│   └── ForbiddenError      authenticated but not allowed (403)
├── NotFoundError           404
├── ConflictError           a state transition that is no longer possible (409)
└── VerificationError       a proof, signature, token or log failed verification
"""

from __future__ import annotations


class RedlineError(Exception):
    """Base of every error Redline raises on purpose."""

    code = "redline_error"
    status = 500


class InputError(RedlineError):
    code = "invalid_request"
    status = 400


class UnknownCategoryError(InputError):
    code = "unknown_category"


class UnknownPolicyError(InputError):
    code = "unknown_policy"


class PolicyError(RedlineError):
    code = "policy_invalid"


class EvaluationError(RedlineError):
    code = "policy_evaluation_failed"


class ClassifierError(RedlineError):
    code = "classifier_failed"


class StoreError(RedlineError):
    code = "ledger_write_failed"
    status = 503


class AuthError(RedlineError):
    code = "unauthorized"
    status = 401


class ForbiddenError(AuthError):
    code = "forbidden"
    status = 403


class NotFoundError(RedlineError):
    code = "not_found"
    status = 404


class ConflictError(RedlineError):
    code = "conflict"
    status = 409


class VerificationError(RedlineError):
    code = "verification_failed"
    status = 400
