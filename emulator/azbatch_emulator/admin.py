"""Clients for the emulator's admin API: `AdminClient` (sync) and `AsyncAdminClient`.

Both take the ready info (`emulator.info`, or the JSON line `azbatch-emulator serve` prints).
"""

from __future__ import annotations

import json
import ssl
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import aiohttp


class AdminError(RuntimeError):
    """The admin API refused a request; the message carries its explanation."""


def _fault_body(
    route: str,
    method: str,
    status: int,
    *,
    retry_after: float | None,
    count: int | None,
    probability: float,
    latency: float,
    drop_connection: bool,
    pool: str | None,
    code: str | None,
    message: str | None,
    node: str | None = None,
) -> dict[str, Any]:
    body = {
        "route": route,
        "method": method,
        "status": status,
        "retry_after": retry_after,
        "count": count,
        "probability": probability,
        "latency": latency,
        "drop_connection": drop_connection,
        "pool": pool,
        "code": code,
        "message": message,
    }
    if node is not None:
        body["node"] = node
    return body


def _throttle_body(
    enabled: bool,
    reads: tuple[int, float] | None,
    writes: tuple[int, float] | None,
    deletes: tuple[int, float] | None,
) -> dict[str, Any]:
    limits = {"reads": reads, "writes": writes, "deletes": deletes}
    return {"enabled": enabled, **{k: list(v) for k, v in limits.items() if v is not None}}


def _script_body(kind: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, **{k: v for k, v in fields.items() if v is not None}}


def _busy_body(pool_id: str, seconds: float, count: int | None, node_ids: list[str] | None) -> dict[str, Any]:
    body: dict[str, Any] = {"id": pool_id, "seconds": seconds}
    if count is not None:
        body["count"] = count
    if node_ids is not None:
        body["node_ids"] = list(node_ids)
    return body


def _nodes_path(pool_id: str) -> str:
    return "/pools/nodes?" + urllib.parse.urlencode({"id": pool_id})


def _tasks_of(pools: dict[str, dict[str, int]], pool_id: str) -> dict[str, int]:
    counts = pools.get(pool_id.lower(), {})
    return {
        "tasks_requeued": counts.get("tasks_requeued", 0),
        "tasks_terminated": counts.get("tasks_terminated", 0),
    }


class AdminClient:
    """Synchronous admin client (stdlib only, safe to call from any thread)."""

    def __init__(self, info: dict[str, Any], *, timeout: float = 30.0) -> None:
        self.base = info["endpoints"]["admin"]
        self.timeout = timeout
        self._ssl = ssl.create_default_context(cafile=info["ca_cert"])

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(  # noqa: S310  (https to the emulator)
            self.base + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout, context=self._ssl) as response:  # noqa: S310
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise AdminError(f"{method} {path}: {exc.code} {exc.read().decode(errors='replace')}") from exc

    # faults
    def inject_fault(
        self,
        route: str = "*",
        method: str = "*",
        status: int = 500,
        *,
        retry_after: float | None = None,
        count: int | None = None,
        probability: float = 1.0,
        latency: float = 0.0,
        drop_connection: bool = False,
        pool: str | None = None,
        code: str | None = None,
        message: str | None = None,
        node: str | None = None,
    ) -> dict[str, Any]:
        """E.g. `inject_fault("mgmt.pool", "GET", 429, retry_after=1, count=1)`; `node` narrows a
        data-plane node route to one node (`inject_fault("batch.nodeExtensions", node=...)`)."""
        body = _fault_body(
            route,
            method,
            status,
            retry_after=retry_after,
            count=count,
            probability=probability,
            latency=latency,
            drop_connection=drop_connection,
            pool=pool,
            code=code,
            message=message,
            node=node,
        )
        result: dict[str, Any] = self._call("POST", "/faults", body)
        return result

    def faults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/faults")["faults"])

    def clear_faults(self) -> None:
        self._call("DELETE", "/faults")

    # scripts
    def script_extension(
        self,
        extension: str,
        *,
        fail_nodes: int = -1,
        code: str = "ProvisioningState/failed/0",
        message: str = "Scripted failure",
        pool: str = "*",
        provisioning_seconds: float = 0.0,
    ) -> dict[str, Any]:
        """Fail the extension (name or type) on the first `fail_nodes` nodes (-1: all) of matching
        pools, after `provisioning_seconds` (simulated) of extra `transitioning` (1200: the
        20-minute extension timeout)."""
        body = _script_body(
            "extension",
            extension=extension,
            fail_nodes=fail_nodes,
            code=code,
            message=message,
            pool=pool,
            provisioning_seconds=provisioning_seconds,
        )
        result: dict[str, Any] = self._call("POST", "/scripts", body)
        return result

    def script_start_task(
        self,
        *,
        fail_nodes: int = -1,
        exit_code: int = 1,
        code: str = "FailureExitCode",
        message: str = "The task exited with an exit code representing a failure",
        pool: str = "*",
    ) -> dict[str, Any]:
        """Fail the start task on the first `fail_nodes` nodes (-1: all) of matching pools."""
        body = _script_body(
            "start_task", fail_nodes=fail_nodes, exit_code=exit_code, code=code, message=message, pool=pool
        )
        result: dict[str, Any] = self._call("POST", "/scripts", body)
        return result

    def script_unusable(
        self,
        *,
        fail_nodes: int = -1,
        code: str = "NodeUnusable",
        message: str = "The node became unusable: the VM failed its health checks",
        pool: str = "*",
    ) -> dict[str, Any]:
        """Make the first `fail_nodes` nodes (-1: all) of matching pools `unusable` once up."""
        body = _script_body("unusable", fail_nodes=fail_nodes, code=code, message=message, pool=pool)
        result: dict[str, Any] = self._call("POST", "/scripts", body)
        return result

    def preempt_nodes(
        self, pool_id: str, *, count: int | None = None, node_ids: list[str] | None = None
    ) -> list[str]:
        """Azure takes spot nodes of the pool back: they show `preempted` (all, the first `count`,
        or `node_ids`); returns their ids."""
        body: dict[str, Any] = {"id": pool_id}
        if count is not None:
            body["count"] = count
        if node_ids is not None:
            body["node_ids"] = list(node_ids)
        return list(self._call("POST", "/pools/preempt", body)["nodes"])

    def script_allocation(self, seconds: float, *, pool: str = "*") -> dict[str, Any]:
        """Make resizes of matching pools take `seconds` of simulated time."""
        result: dict[str, Any] = self._call(
            "POST", "/scripts", _script_body("allocation", allocation_seconds=seconds, pool=pool)
        )
        return result

    def clear_scripts(self) -> None:
        self._call("DELETE", "/scripts")

    # clock
    def advance_clock(self, seconds: float) -> float:
        return float(self._call("POST", "/clock/advance", {"seconds": seconds})["now"])

    def now(self) -> float:
        return float(self._call("GET", "/clock")["now"])

    def pause_clock(self) -> float:
        """Freeze simulated time (only `advance_clock` moves it) until `resume_clock()` or `reset()`."""
        return float(self._call("POST", "/clock/pause")["now"])

    def resume_clock(self) -> float:
        return float(self._call("POST", "/clock/resume")["now"])

    # counters
    def counters(self) -> dict[str, int]:
        """Calls per `"<METHOD> <route>"`, e.g. `{"GET mgmt.pool": 3}`."""
        return dict(self._call("GET", "/counters")["counts"])

    def management_writes(self) -> int:
        """PUT/PATCH/DELETE/POST calls on management routes since the last reset."""
        return int(self._call("GET", "/counters")["management_writes"])

    def reset_counters(self) -> None:
        """Counters, task counts and the ARM throttle's statistics (not its buckets) start again."""
        self._call("DELETE", "/counters")

    # ARM request throttling
    def set_arm_throttle(
        self,
        *,
        enabled: bool = True,
        reads: tuple[int, float] | None = None,
        writes: tuple[int, float] | None = None,
        deletes: tuple[int, float] | None = None,
    ) -> dict[str, Any]:
        """Turn ARM's throttle on or off and set the per-principal limits of a kind as (bucket size,
        refill per emulator second); None keeps a kind's limit. Every bucket starts full again.
        Returns what `arm_throttle()` returns."""
        result: dict[str, Any] = self._call(
            "POST", "/arm-throttle", _throttle_body(enabled, reads, writes, deletes)
        )
        return result

    def arm_throttle(self) -> dict[str, Any]:
        """`{"enabled", "limits": {kind: {"bucket", "refill_per_second"}}, "subscriptions": {sub:
        {kind: {"allowed", "throttled", "min_remaining"}}}}`, counted since the last counter reset."""
        result: dict[str, Any] = self._call("GET", "/arm-throttle")
        return result

    # accounts and pools
    def create_account(self, name: str, **fields: Any) -> dict[str, Any]:
        """Fields: subscription_id, resource_group, location, dedicated_core_quota,
        low_priority_core_quota, pool_quota."""
        result: dict[str, Any] = self._call("POST", "/accounts", {"name": name, **fields})
        return result

    def update_account(self, name: str, **fields: Any) -> dict[str, Any]:
        result: dict[str, Any] = self._call("PATCH", f"/accounts/{name}", fields)
        return result

    def drift_pool(self, pool_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        """Merge-patch the pool body behind the client's back (`{"properties": {"vmSize": ...}}`)."""
        result: dict[str, Any] = self._call("POST", "/pools/drift", {"id": pool_id, "changes": changes})
        return result

    def remove_pool(self, pool_id: str) -> None:
        """Delete the pool at once, behind the client's back."""
        self._call("POST", "/pools/remove", {"id": pool_id})

    # job tasks on nodes
    def busy_nodes(
        self, pool_id: str, seconds: float, *, count: int | None = None, node_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        """Run a simulated task of `seconds` on nodes of the pool: all that can run tasks, the
        first `count` (idle first), or `node_ids`. Returns `[{"id", "start", "end"}]` (simulated
        instants); the data plane shows those nodes `running` until then."""
        return list(self._call("POST", "/pools/busy", _busy_body(pool_id, seconds, count, node_ids))["nodes"])

    def task_counts(self, pool_id: str) -> dict[str, int]:
        """`{"tasks_requeued": n, "tasks_terminated": n}`: tasks stopped by node removal (Requeue or
        Terminate shrinks, pool deletion) since the last counter reset; kept after the pool is gone."""
        return _tasks_of(self._call("GET", "/tasks")["pools"], pool_id)

    def pool_nodes(self, pool_id: str) -> list[dict[str, Any]]:
        """Each present node as the emulator sees it: id, state, tasks, leave_at, identity, ..."""
        return list(self._call("GET", _nodes_path(pool_id))["nodes"])

    # defaults echoed on reads
    def add_echoed_default(self, path: str, value: Any, *, pool: str = "*") -> dict[str, Any]:
        """Make every read of matching pools (glob on the name) return `value` at `path` inside
        `properties` where it is absent and its parent exists: dot-separated names, `name[*]` for
        every item of a list, e.g. `add_echoed_default("startTask.resourceFiles[*].fileMode", "0755")`."""
        result: dict[str, Any] = self._call("POST", "/defaults", {"path": path, "value": value, "pool": pool})
        return result

    def echoed_defaults(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/defaults")["defaults"])

    def clear_echoed_defaults(self) -> None:
        self._call("DELETE", "/defaults")

    # tokens
    def issue_token(
        self, *, audience: str, lifetime_seconds: float = 3600.0, client_id: str | None = None
    ) -> str:
        """A token signed by the emulator for any audience and lifetime (negative: already expired),
        for the pre-registered app or another `client_id` (another service principal)."""
        body: dict[str, Any] = {"audience": audience, "lifetime_seconds": lifetime_seconds}
        if client_id is not None:
            body["client_id"] = client_id
        return str(self._call("POST", "/tokens", body)["access_token"])

    def federated_token(self, *, subject: str, lifetime_seconds: float = 3600.0) -> str:
        body = {"subject": subject, "lifetime_seconds": lifetime_seconds}
        return str(self._call("POST", "/federated-tokens", body)["token"])

    def reset(self) -> None:
        """Pools, extra accounts, faults, scripts, counters and the ARM throttle (its start-up
        settings, full buckets, no statistics) back to a fresh start."""
        self._call("POST", "/reset")


class AsyncAdminClient:
    """The same operations for async code (the most used ones; `call()` reaches the rest)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.base = info["endpoints"]["admin"]
        self._ssl = ssl.create_default_context(cafile=info["ca_cert"])
        self._session: aiohttp.ClientSession | None = None

    async def call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=self._ssl))
        async with self._session.request(method, self.base + path, json=body) as response:
            data = await response.json(content_type=None)
            if response.status >= 400:
                raise AdminError(f"{method} {path}: {response.status} {data}")
            return data

    async def inject_fault(
        self, route: str = "*", method: str = "*", status: int = 500, **options: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/faults", {"route": route, "method": method, "status": status, **options}
        )
        return result

    async def clear_faults(self) -> None:
        await self.call("DELETE", "/faults")

    async def script_extension(self, extension: str, **options: Any) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/scripts", _script_body("extension", extension=extension, **options)
        )
        return result

    async def advance_clock(self, seconds: float) -> float:
        return float((await self.call("POST", "/clock/advance", {"seconds": seconds}))["now"])

    async def pause_clock(self) -> float:
        return float((await self.call("POST", "/clock/pause"))["now"])

    async def resume_clock(self) -> float:
        return float((await self.call("POST", "/clock/resume"))["now"])

    async def counters(self) -> dict[str, int]:
        return dict((await self.call("GET", "/counters"))["counts"])

    async def management_writes(self) -> int:
        return int((await self.call("GET", "/counters"))["management_writes"])

    async def reset_counters(self) -> None:
        await self.call("DELETE", "/counters")

    async def set_arm_throttle(
        self,
        *,
        enabled: bool = True,
        reads: tuple[int, float] | None = None,
        writes: tuple[int, float] | None = None,
        deletes: tuple[int, float] | None = None,
    ) -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/arm-throttle", _throttle_body(enabled, reads, writes, deletes)
        )
        return result

    async def arm_throttle(self) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("GET", "/arm-throttle")
        return result

    async def drift_pool(self, pool_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = await self.call("POST", "/pools/drift", {"id": pool_id, "changes": changes})
        return result

    async def remove_pool(self, pool_id: str) -> None:
        await self.call("POST", "/pools/remove", {"id": pool_id})

    async def busy_nodes(
        self, pool_id: str, seconds: float, *, count: int | None = None, node_ids: list[str] | None = None
    ) -> list[dict[str, Any]]:
        data = await self.call("POST", "/pools/busy", _busy_body(pool_id, seconds, count, node_ids))
        return list(data["nodes"])

    async def task_counts(self, pool_id: str) -> dict[str, int]:
        return _tasks_of((await self.call("GET", "/tasks"))["pools"], pool_id)

    async def pool_nodes(self, pool_id: str) -> list[dict[str, Any]]:
        return list((await self.call("GET", _nodes_path(pool_id)))["nodes"])

    async def add_echoed_default(self, path: str, value: Any, *, pool: str = "*") -> dict[str, Any]:
        result: dict[str, Any] = await self.call(
            "POST", "/defaults", {"path": path, "value": value, "pool": pool}
        )
        return result

    async def echoed_defaults(self) -> list[dict[str, Any]]:
        return list((await self.call("GET", "/defaults"))["defaults"])

    async def clear_echoed_defaults(self) -> None:
        await self.call("DELETE", "/defaults")

    async def reset(self) -> None:
        await self.call("POST", "/reset")

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __aenter__(self) -> AsyncAdminClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
