"""The disruption budget (pure, in memory): how many pools of one Batch account may be in a
destructive step at once.

A destructive step is a recreate (drain, delete, create) or a scale to zero: for its whole length
the pool runs fewer nodes than its spec asks for. At most `maxConcurrentRecreates` pools of one
account (default 1) are in one at a time; the others wait their turn, first come first served,
`Reconciling` with a reason that names the budget and the pools ahead. A flow already under way
always keeps its place (after a restart the operator seeds the budget from the pools whose status
says they are in one), so the budget can only delay a destructive step, never stop one half-way.
A place is given up once the pool's status says its step has ended, so the statuses of an account
never show more pools in a destructive step than the limit, even for a moment.

One operator acts at a time (the Lease), so the budget of that process is the budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

DEFAULT_MAX_CONCURRENT: Final = 1
BUDGET_REASON: Final = "WaitingForDisruptionBudget"  # the Reconciling reason of a pool in the queue


@dataclass(frozen=True)
class Admission:
    admitted: bool
    ahead: tuple[str, ...] = ()  # names of the pools in a destructive step, then those waiting before us
    limit: int = DEFAULT_MAX_CONCURRENT

    def message(self, account: str) -> str:
        holders = ", ".join(self.ahead) or "-"
        return (
            f"Waiting for the disruption budget: at most {self.limit} pool(s) of Batch account {account} may "
            f"be recreated or scaled to zero at once (maxConcurrentRecreates); ahead: {holders}."
        )


@dataclass
class DisruptionBudget:
    limit: int = DEFAULT_MAX_CONCURRENT
    _holders: dict[str, dict[str, str]] = field(default_factory=dict)  # account -> uid -> name
    _waiting: dict[str, dict[str, str]] = field(default_factory=dict)  # account -> uid -> name, in order

    def request(self, account: str, uid: str, name: str) -> Admission:
        """Start a destructive step now, or queue for one (asking again keeps the place)."""
        account = account.lower()  # ARM ids ignore case: one account, however a spec spells it
        holders = self._holders.setdefault(account, {})
        if uid in holders:
            return Admission(True, limit=self.limit)
        waiting = self._waiting.setdefault(account, {})
        waiting.setdefault(uid, name)
        order = list(waiting)
        before = [waiting[u] for u in order[: order.index(uid)]]
        if len(holders) < self.limit and not before:
            del waiting[uid]
            holders[uid] = name
            return Admission(True, limit=self.limit)
        return Admission(False, (*holders.values(), *before), self.limit)

    def hold(self, account: str, uid: str, name: str) -> None:
        """A flow under way keeps (or takes back) its place, whatever the limit."""
        account = account.lower()
        self._waiting.get(account, {}).pop(uid, None)
        self._holders.setdefault(account, {})[uid] = name

    def release(self, account: str, uid: str) -> None:
        """The pool is not in, nor waiting for, a destructive step (any more)."""
        account = account.lower()
        self._holders.get(account, {}).pop(uid, None)
        self._waiting.get(account, {}).pop(uid, None)

    def ended(self, uid: str) -> None:
        """The pool's status no longer says it is in a destructive step: its place goes to the next.
        Only then, not when a pass first decides the step is over, so that no moment shows more
        pools of an account in one than the limit (and a restart seeds the budget from that status)."""
        for holders in self._holders.values():
            holders.pop(uid, None)

    def withdraw(self, uid: str) -> None:
        """The pool stopped asking (its pass ended otherwise: stalled, invalid, reverted): it must not
        hold up the pools queued behind it. A flow it holds is kept."""
        for waiting in self._waiting.values():
            waiting.pop(uid, None)

    def release_everywhere(self, uid: str) -> None:
        """The BatchPool is gone (or its account was edited): forget it in every account."""
        for account in {*self._holders, *self._waiting}:
            self.release(account, uid)

    def holders(self, account: str) -> tuple[str, ...]:
        return tuple(self._holders.get(account.lower(), {}).values())
