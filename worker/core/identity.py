"""Who a request's key belongs to: what authentication hands to the endpoint, and the limits it carries.

A static key from `API_KEYS` and a managed key from the state store both authenticate to an `Identity`.
It names the key by its public id (never the secret), its role, the models it may use and the limit
fields that rate and budget enforcement read. Plain data, immutable, shared by every request of the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")
BudgetPeriod = Literal["day", "month", "total"]
BUDGET_PERIODS: tuple[BudgetPeriod, ...] = ("day", "month", "total")


@dataclass(frozen=True, slots=True)
class Limits:
    """What a key may consume; `None` is "no limit". Enforced by the rate and budget limiter."""

    rpm: int | None = None
    tpm: int | None = None
    max_concurrency: int | None = None
    budget_usd: float | None = None
    budget_period: BudgetPeriod | None = None


NO_LIMITS = Limits()


@dataclass(frozen=True, slots=True)
class Identity:
    key_id: str
    """`static-1`, `static-2`, ... for `API_KEYS` (by position); the managed key's public id otherwise."""
    role: Role = "user"
    models: tuple[str, ...] = ()
    """Model slugs the key may use; empty: every model."""
    limits: Limits = NO_LIMITS

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def may_use(self, slug: str) -> bool:
        return not self.models or slug in self.models


ANONYMOUS = Identity("")
"""Every caller when `ALLOW_NO_AUTH` is on and no key is configured: a user, never an admin."""
