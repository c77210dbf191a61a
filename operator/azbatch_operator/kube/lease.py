"""Leader election on a coordination.k8s.io Lease: one replica acts, the others wait to take over."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client as k8s
from kubernetes.client.exceptions import ApiException

from azbatch_operator.leadership import claim, may_take, parse_lease, release
from azbatch_operator.logs import get_logger


class LeadershipLostError(RuntimeError):
    pass


class LeaseElector:
    def __init__(
        self,
        api: k8s.ApiClient,
        *,
        name: str,
        namespace: str,
        identity: str,
        duration: timedelta = timedelta(seconds=15),
        retry_period: float = 2.0,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._leases = k8s.CoordinationV1Api(api)
        self.name, self.namespace, self.identity = name, namespace, identity
        self.duration, self.retry_period, self._now = duration, retry_period, now
        self._log = get_logger(lease=f"{namespace}/{name}", identity=identity)
        self.holder: str | None = None  # who held the lease at the last look

    async def try_acquire(self) -> bool:
        """One attempt to take or renew the lease; False when someone else validly holds it."""
        try:
            current = await asyncio.to_thread(self._leases.read_namespaced_lease, self.name, self.namespace)
        except ApiException as error:
            if error.status != 404:
                raise
            return await self._create()
        spec = current.spec.to_dict() if current.spec else {}
        record = parse_lease(_camel(spec))
        self.holder = record.holder
        if not may_take(record, self.identity, self._now()):
            return False
        version = current.metadata.resource_version if current.metadata else None
        body: Any = {
            "metadata": {"name": self.name, "resourceVersion": version},
            "spec": claim(record, self.identity, self._now(), self.duration),
        }
        try:
            await asyncio.to_thread(self._leases.replace_namespaced_lease, self.name, self.namespace, body)
        except ApiException as error:
            if error.status == 409:  # somebody else wrote first
                return False
            raise
        return True

    async def _create(self) -> bool:
        body: Any = {
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": claim(parse_lease(None), self.identity, self._now(), self.duration),
        }
        try:
            await asyncio.to_thread(self._leases.create_namespaced_lease, self.namespace, body)
        except ApiException as error:
            if error.status == 409:
                return False
            raise
        return True

    async def release(self) -> None:
        """Let go of the lease on a clean shutdown so a standby takes over within its retry period.
        Best effort: a lease held by someone else is left alone, and a failure only means the
        standby waits out the lease duration, as after a crash."""
        try:
            current = await asyncio.to_thread(self._leases.read_namespaced_lease, self.name, self.namespace)
            record = parse_lease(_camel(current.spec.to_dict() if current.spec else {}))
            if record.holder != self.identity:
                return
            version = current.metadata.resource_version if current.metadata else None
            body: Any = {
                "metadata": {"name": self.name, "resourceVersion": version},
                "spec": release(record, self._now()),
            }
            await asyncio.to_thread(self._leases.replace_namespaced_lease, self.name, self.namespace, body)
        except ApiException as error:
            self._log.warning("could not release the lease", status=error.status)
            return
        self._log.info("released the lease")

    async def acquire(self) -> None:
        """Wait until this replica leads; a standby says once that it waits, and for whom."""
        told = False
        while not await self.try_acquire():
            if not told:
                self._log.info(
                    "standing by: another operator holds the leader Lease; this one acts only when it goes",
                    holder=self.holder,
                )
                told = True
            await asyncio.sleep(self.retry_period)
        self._log.info("leading")

    async def hold(self) -> None:
        """Renew for as long as possible; raise LeadershipLostError when leading can no longer be proven.

        Renewal must succeed within two thirds of the lease duration (client-go's renew deadline),
        so this replica stops acting before another may take the lease over. A renewal that gets no
        answer is given up at that deadline too, as client-go's renew context does: waiting on it
        would keep this replica acting past the lease's expiry, beside the one that took it.
        """
        renew_deadline = self.duration * 2 / 3
        deadline = self._now() + renew_deadline
        while True:
            await asyncio.sleep(self.retry_period)
            left = (deadline - self._now()).total_seconds()
            try:
                renewed = await asyncio.wait_for(self.try_acquire(), timeout=max(left, 0.0))
            except (ApiException, TimeoutError) as error:
                status = error.status if isinstance(error, ApiException) else "no answer"
                self._log.warning("lease renewal failed", status=status)
                if self._now() >= deadline:
                    lost = f"could not renew lease {self.namespace}/{self.name}"
                    raise LeadershipLostError(lost) from error
                continue
            if not renewed:
                raise LeadershipLostError(f"lease {self.namespace}/{self.name} is held by another replica")
            deadline = self._now() + renew_deadline


def _camel(spec: dict[str, Any]) -> dict[str, Any]:
    names = {
        "holder_identity": "holderIdentity",
        "lease_duration_seconds": "leaseDurationSeconds",
        "renew_time": "renewTime",
        "acquire_time": "acquireTime",
        "lease_transitions": "leaseTransitions",
    }
    return {names.get(key, key): value for key, value in spec.items()}
