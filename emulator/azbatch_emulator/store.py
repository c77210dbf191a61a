"""Accounts and pools, their service rules for writes, and their persistence in the state dir.

Lookups are O(1) dict accesses keyed by lower-cased names (Azure names are case-insensitive).
A pool is written to its own JSON file after every change, so a restart loses nothing and a
write costs one small file regardless of how many pools exist.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from azbatch_emulator.clock import SimClock, parse_duration
from azbatch_emulator.defaults import EchoedDefault
from azbatch_emulator.errors import ServiceError
from azbatch_emulator.pools import Pool, Resize, autoscaled, scale_targets
from azbatch_emulator.rules import (
    check_account_name,
    check_pool_name,
    check_zero_node_change,
    drop_read_only,
    strip_secrets,
    validate_mutable_properties,
    validate_pool_properties,
)
from azbatch_emulator.scripts import Script
from azbatch_emulator.timings import Timings

ACCOUNT_PROVIDER = "providers/Microsoft.Batch/batchAccounts"


@dataclass
class Account:
    subscription_id: str
    resource_group: str
    name: str
    location: str = "eastus"
    dedicated_core_quota: int = 100_000
    low_priority_core_quota: int = 100_000
    pool_quota: int = 2_500
    pools: dict[str, Pool] = field(default_factory=dict, repr=False)

    @property
    def key(self) -> tuple[str, str, str]:
        return self.subscription_id.lower(), self.resource_group.lower(), self.name.lower()

    @property
    def arm_id(self) -> str:
        group = f"/subscriptions/{self.subscription_id}/resourceGroups/{self.resource_group}"
        return f"{group}/{ACCOUNT_PROVIDER}/{self.name}"

    def pool_id(self, pool_name: str) -> str:
        return f"{self.arm_id}/pools/{pool_name}"

    def to_state(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("pools")
        return data


def atomic_write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


class Store:
    def __init__(self, *, clock: SimClock, timings: Timings, state_dir: Path | None) -> None:
        self.clock = clock
        self.timings = timings
        self.state_dir = state_dir
        self.accounts: dict[tuple[str, str, str], Account] = {}
        self.by_name: dict[str, Account] = {}
        self.scripts: list[Script] = []
        self.task_counters: dict[str, dict[str, int]] = {}
        """Per pool ARM id (lower case): tasks requeued/terminated by node removal. Each pool
        holds its own dict, registered here so the counts outlive the pool's deletion."""
        self.echoed_defaults: list[EchoedDefault] = []
        """Extra defaults the admin API asked every pool read to echo (shared with each pool)."""
        if state_dir:
            (state_dir / "pools").mkdir(parents=True, exist_ok=True)

    # --- accounts ---------------------------------------------------------------------------
    def add_account(self, account: Account) -> Account:
        check_account_name(account.name)
        if account.name.lower() in self.by_name:
            raise ServiceError(
                409,
                "AccountNameAlreadyExists",
                f"An account named '{account.name}' already exists (names are global).",
            )
        self.accounts[account.key] = account
        self.by_name[account.name.lower()] = account
        self.save_accounts()
        return account

    def account(self, subscription_id: str, resource_group: str, name: str) -> Account:
        """The account, or ARM's 404 for the first missing part of its id: the subscription
        (SubscriptionNotFound), the resource group (ResourceGroupNotFound), the account
        (ResourceNotFound). Subscriptions and groups exist here when they hold an account."""
        subscription, group = subscription_id.lower(), resource_group.lower()
        account = self.accounts.get((subscription, group, name.lower()))
        if account is not None:
            return account
        if not any(key[0] == subscription for key in self.accounts):
            raise ServiceError(
                404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found."
            )
        if not any(key[:2] == (subscription, group) for key in self.accounts):
            raise ServiceError(
                404, "ResourceGroupNotFound", f"Resource group '{resource_group}' could not be found."
            )
        raise ServiceError(
            404,
            "ResourceNotFound",
            f"The Resource 'Microsoft.Batch/batchAccounts/{name}' under resource group "
            f"'{resource_group}' was not found.",
        )

    def account_by_name(self, name: str) -> Account | None:
        return self.by_name.get(name.lower())

    def update_account(self, account: Account, changes: dict[str, Any]) -> Account:
        for key in ("dedicated_core_quota", "low_priority_core_quota", "pool_quota", "location"):
            if key in changes:
                setattr(account, key, changes[key])
        self.save_accounts()
        return account

    # --- pools: reads -----------------------------------------------------------------------
    def find_pool(self, account: Account, name: str, now: float) -> Pool | None:
        pool = account.pools.get(name.lower())
        if pool is not None and pool.deleted(now):
            self._forget(account, pool)
            return None
        return pool

    def pool(self, account: Account, name: str, now: float) -> Pool:
        pool = self.find_pool(account, name, now)
        if pool is None:
            raise ServiceError(404, "PoolNotFound", "The specified pool does not exist.")
        return pool

    def list_pools(self, account: Account, now: float) -> list[Pool]:
        for pool in [p for p in account.pools.values() if p.deleted(now)]:
            self._forget(account, pool)
        return list(account.pools.values())

    # --- pools: writes ----------------------------------------------------------------------
    def put_pool(
        self, account: Account, name: str, body: Any, *, if_match: str | None, if_none_match: str | None
    ) -> tuple[Pool, bool]:
        """Create or fully replace a pool; returns (pool, created)."""
        now = self.clock.now()
        check_pool_name(name)
        if not isinstance(body, dict):
            raise ServiceError(
                400, "InvalidRequestContent", "The request body must be a JSON object with 'properties'."
            )
        existing = self.find_pool(account, name, now)
        if existing is not None:
            ensure_not_deleting(existing)
        check_conditions(existing, if_match=if_match, if_none_match=if_none_match)
        body = drop_read_only(strip_secrets(copy.deepcopy(body)))
        stored = {k: body[k] for k in ("properties", "identity", "tags") if k in body}
        validate_pool_properties(stored.get("properties"), timings=self.timings)
        if existing is None:
            if len(account.pools) >= account.pool_quota:
                raise ServiceError(
                    409,
                    "PoolQuotaReached",
                    f"The account has reached its pool quota ({account.pool_quota}); "
                    "delete pools or raise the quota.",
                )
            pool = Pool(arm_id=account.pool_id(name), name=name, body=stored, now=now, timings=self.timings)
            self._register(pool)
            account.pools[name.lower()] = pool
            self._resize(account, pool, now)
            self.save_pool(pool)
            return pool, True
        check_zero_node_change(
            existing.properties,
            stored["properties"],
            steady_and_empty=existing.is_steady_and_empty(now),
            replace=True,
        )
        check_not_resizing(existing, stored["properties"], now)
        old_targets = existing.desired_targets(now)
        existing.body = stored
        existing.touch(now)
        if needs_resize(existing, old_targets, now):
            self._resize(account, existing, now)
        self.save_pool(existing)
        return existing, False

    def patch_pool(self, account: Account, name: str, body: Any, *, if_match: str | None) -> Pool:
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        check_conditions(pool, if_match=if_match, if_none_match=None)
        if not isinstance(body, dict):
            raise ServiceError(400, "InvalidRequestContent", "The request body must be a JSON object.")
        body = drop_read_only(strip_secrets(copy.deepcopy(body)))
        props = body.get("properties") or {}
        if not isinstance(props, dict):
            raise ServiceError(400, "InvalidRequestContent", "'properties' must be an object.")
        validate_mutable_properties(props, timings=self.timings)
        check_zero_node_change(
            pool.properties, props, steady_and_empty=pool.is_steady_and_empty(now), replace=False
        )
        merged = {**pool.properties, **props}
        validate_pool_properties(merged, timings=self.timings)
        if "scaleSettings" in props:
            check_not_resizing(pool, merged, now)
        old_targets = pool.desired_targets(now)
        pool.body["properties"] = merged
        for key in ("identity", "tags"):
            if key in body:
                pool.body[key] = body[key]
        pool.touch(now)
        if "scaleSettings" in props and needs_resize(pool, old_targets, now):
            self._resize(account, pool, now)
        self.save_pool(pool)
        return pool

    def delete_pool(self, account: Account, name: str) -> Pool | None:
        """Start deleting; returns the pool (deleting) or None when it does not exist.

        Like the service, a second delete of a pool that is being deleted is refused (409
        PoolBeingDeleted); poll the first one's Location or GET the pool until 404 instead.
        """
        now = self.clock.now()
        pool = self.find_pool(account, name, now)
        if pool is not None:
            ensure_not_deleting(pool)
            pool.start_delete(now)
            self.save_pool(pool)
        return pool

    def stop_resize(self, account: Account, name: str) -> Pool:
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        pool.stop_resize(now)
        pool.touch(now)
        self.save_pool(pool)
        return pool

    def disable_autoscale(self, account: Account, name: str) -> Pool:
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        scale = pool.properties.get("scaleSettings") or {}
        if "autoScale" in scale:
            dedicated, low, _, _ = pool.desired_targets(now)
            pool.properties["scaleSettings"] = {
                "fixedScale": {
                    "targetDedicatedNodes": dedicated,
                    "targetLowPriorityNodes": low,
                    "resizeTimeout": "PT15M",
                }
            }
            pool.autoscale_run = None
        pool.touch(now)
        self.save_pool(pool)
        return pool

    def drift(self, account: Account, name: str, changes: dict[str, Any]) -> Pool:
        """Change a pool behind its owner's back: merge `changes` (JSON merge patch) into the body."""
        now = self.clock.now()
        pool = self.pool(account, name, now)
        old_targets = pool.desired_targets(now)
        merge_patch(pool.body, strip_secrets(copy.deepcopy(changes)))
        pool.touch(now)
        if pool.desired_targets(now) != old_targets:
            self._resize(account, pool, now)
        self.save_pool(pool)
        return pool

    def remove_pool(self, account: Account, name: str) -> None:
        """Delete a pool at once, behind its owner's back."""
        pool = self.pool(account, name, self.clock.now())
        self._forget(account, pool)

    def busy_nodes(
        self,
        account: Account,
        name: str,
        seconds: float,
        *,
        count: int | None = None,
        node_ids: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        """Make nodes of a pool run a simulated task for `seconds` (see `Pool.busy`)."""
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        started = pool.busy(now, seconds, count=count, node_ids=node_ids)
        self.save_pool(pool)
        return started

    def preempt_nodes(
        self, account: Account, name: str, *, count: int | None = None, node_ids: list[str] | None = None
    ) -> list[str]:
        """Azure takes spot nodes of the pool back (see `Pool.preempt`)."""
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        preempted = pool.preempt(now, count=count, node_ids=node_ids)
        self.save_pool(pool)
        return preempted

    def reset_task_counters(self) -> None:
        for counts in self.task_counters.values():
            counts.clear()

    def _register(self, pool: Pool) -> None:
        pool.task_counters = self.task_counters.setdefault(pool.arm_id.lower(), {})
        pool.extra_defaults = self.echoed_defaults

    def _resize(self, account: Account, pool: Pool, now: float) -> None:
        targets = pool.desired_targets(now)
        pool.resize_to(
            now,
            targets=targets,
            timeout_seconds=_timeout_seconds(targets[2], self.timings),
            free_cores=self.free_cores(account, pool),
            scripts=self.scripts,
        )

    def free_cores(self, account: Account, pool: Pool) -> tuple[float, float]:
        """Cores left under the account's quotas (dedicated, low priority) for `pool` to grow by."""
        del pool  # every pool, this one included, holds the cores of its committed nodes
        used_dedicated = used_low = 0
        for other in account.pools.values():
            cores = other.cores_per_node()
            used_dedicated += other.committed(True) * cores
            used_low += other.committed(False) * cores
        return (
            float(account.dedicated_core_quota - used_dedicated),
            float(account.low_priority_core_quota - used_low),
        )

    # --- persistence ------------------------------------------------------------------------
    def _pool_path(self, pool: Pool) -> Path | None:
        if not self.state_dir:
            return None
        digest = hashlib.sha1(pool.arm_id.lower().encode(), usedforsecurity=False).hexdigest()
        return self.state_dir / "pools" / f"{digest}.json"

    def save_pool(self, pool: Pool) -> None:
        path = self._pool_path(pool)
        if path:
            atomic_write(path, json.dumps(pool.to_state()))

    def _forget(self, account: Account, pool: Pool) -> None:
        account.pools.pop(pool.name.lower(), None)
        path = self._pool_path(pool)
        if path:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()

    def save_accounts(self) -> None:
        if self.state_dir:
            atomic_write(
                self.state_dir / "accounts.json", json.dumps([a.to_state() for a in self.accounts.values()])
            )

    def save_clock(self) -> None:
        if self.state_dir:
            atomic_write(self.state_dir / "clock.json", json.dumps({"now": self.clock.now()}))

    def load(self) -> float | None:
        """Load accounts and pools from the state dir; returns the saved simulated time, if any."""
        if not self.state_dir or not (self.state_dir / "accounts.json").exists():
            return None
        for data in json.loads((self.state_dir / "accounts.json").read_text()):
            account = Account(**data)
            self.accounts[account.key] = account
            self.by_name[account.name.lower()] = account
        latest = 0.0
        for path in (self.state_dir / "pools").glob("*.json"):
            pool = Pool.from_state(json.loads(path.read_text()), self.timings)
            parts = pool.arm_id.split("/")
            account_found = self.accounts.get((parts[2].lower(), parts[4].lower(), parts[8].lower()))
            if account_found is None:
                continue
            account_found.pools[pool.name.lower()] = pool
            self._register(pool)
            latest = max(latest, pool.last_modified, pool.provisioning_since, pool.allocation_since)
        clock_file = self.state_dir / "clock.json"
        saved = json.loads(clock_file.read_text())["now"] if clock_file.exists() else 0.0
        return max(saved, latest) or None

    def wipe(self) -> None:
        """Forget every account and pool, on disk too (`serve --reset`)."""
        self.clear()
        if self.state_dir:
            for path in [*(self.state_dir / "pools").glob("*.json"), self.state_dir / "accounts.json"]:
                path.unlink(missing_ok=True)

    def clear(self) -> None:
        for account in self.accounts.values():
            for pool in list(account.pools.values()):
                self._forget(account, pool)
        self.accounts.clear()
        self.by_name.clear()
        self.scripts.clear()
        self.task_counters.clear()
        self.echoed_defaults.clear()

    def remove_nodes(
        self,
        account: Account,
        name: str,
        node_ids: list[str],
        *,
        deallocation: str = "Requeue",
        resize_timeout: str | None = None,
    ) -> Pool:
        """Remove the named nodes (the data plane's removenodes). Each leaves as a shrink's would
        (tasks per `deallocation`), and a fixed-scale pool's target drops by the nodes removed.
        Like the service, only a steady pool can (409 PoolBeingResized otherwise)."""
        now = self.clock.now()
        pool = self.pool(account, name, now)
        ensure_not_deleting(pool)
        if pool.allocation_state(now) != "Steady":
            raise ServiceError(
                409,
                "PoolBeingResized",
                "The specified pool is being resized: nodes can be removed once allocationState is Steady.",
            )
        present = {n.id.lower(): n for n in pool.present_nodes(now) if n.leave_at is None}
        unknown = [i for i in node_ids if i.lower() not in present]
        if unknown:
            raise ServiceError(404, "NodeNotFound", f"The specified node does not exist: '{unknown[0]}'.")
        doomed = list({id(n): n for n in (present[i.lower()] for i in node_ids)}.values())
        gone = [pool._remove(n, now, deallocation) for n in doomed]
        fixed = (pool.properties.get("scaleSettings") or {}).get("fixedScale")
        dedicated, low, timeout, _ = pool.desired_targets(now)
        if isinstance(fixed, dict):
            dedicated = max(dedicated - sum(1 for n in doomed if n.dedicated), 0)
            low = max(low - sum(1 for n in doomed if not n.dedicated), 0)
            fixed["targetDedicatedNodes"], fixed["targetLowPriorityNodes"] = dedicated, low
        pool.resize = Resize(
            start=now,
            end=max(gone),
            target_dedicated=dedicated,
            target_low_priority=low,
            timeout=resize_timeout or timeout,
            deallocation=deallocation,
        )
        pool.allocation_since = now
        pool.touch(now)
        self.save_pool(pool)
        return pool


def _timeout_seconds(text: str, timings: Timings) -> float:
    try:
        return parse_duration(text)
    except ValueError:
        return timings.default_resize_timeout


def needs_resize(pool: Pool, old_targets: tuple[int, int, str, str], now: float) -> bool:
    """Scale settings were written: resize if the targets changed, or if a steady pool stands short
    of (or above) them, e.g. after AllocationTimedout or AccountCoreQuotaReached (a retry).

    While a resize runs, a write that keeps the node targets (a new resizeTimeout or deallocation
    option) does not restart it: only the next resize uses them."""
    targets = pool.desired_targets(now)
    if pool.allocation_state(now) != "Steady":
        return targets[:2] != old_targets[:2]
    return targets != old_targets or pool.counts(now) != targets[:2]


def check_not_resizing(pool: Pool, new_props: dict[str, Any], now: float) -> None:
    """Refuse a scale change while the pool is Resizing or Stopping (409 PoolBeingResized).

    The data-plane spec says a pool can only be resized while its allocation state is steady
    ("If the Pool is already resizing, the request fails with status code 409") and that autoscale
    cannot be enabled while a resize is in progress; BatchErrorCodeStrings.PoolBeingResized names
    the code. ARM's PATCH/PUT of scaleSettings is the same resize, so it gets the same answer.
    A write that keeps the node targets and the scale mode changes nothing that is under way and
    is accepted."""
    if pool.allocation_state(now) not in ("Resizing", "Stopping"):
        return
    old = scale_targets(pool.properties)
    new = scale_targets(new_props)
    if new[:2] == old[:2] and autoscaled(new_props) == autoscaled(pool.properties):
        return
    raise ServiceError(
        409,
        "PoolBeingResized",
        "The specified pool is currently being resized: its scale settings cannot change until "
        "allocationState is Steady. Wait for the resize to finish, or stop it (stopResize) first.",
        target="scaleSettings",
    )


def ensure_not_deleting(pool: Pool) -> None:
    if pool.deleting:
        raise ServiceError(
            409, "PoolBeingDeleted", "The specified pool has been marked for deletion and is being deleted."
        )


def check_conditions(pool: Pool | None, *, if_match: str | None, if_none_match: str | None) -> None:
    if if_match and (pool is None or if_match not in ("*", pool.etag)):
        raise ServiceError(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met (If-Match).",
        )
    if if_none_match and pool is not None and if_none_match in ("*", pool.etag):
        raise ServiceError(
            412,
            "ConditionNotMet",
            "The condition specified using HTTP conditional header(s) is not met (If-None-Match).",
        )


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 JSON merge patch, in place."""
    for key, value in patch.items():
        if value is None:
            target.pop(key, None)
        elif isinstance(value, dict) and isinstance(target.get(key), dict):
            merge_patch(target[key], value)
        else:
            target[key] = copy.deepcopy(value)
