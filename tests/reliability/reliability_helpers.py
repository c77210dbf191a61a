"""What every reliability test needs: manifests, the truth read from both stand-ins, and a cuttable wire.

A uniquely named module (not conftest.py), so the whole suite imports it unambiguously.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import os
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.mgmt.batch import BatchManagementClient

from azbatch_emulator.sdk import secret_credential
from azbatch_operator.sandbox import Sandbox, condition, wait_until

FAST: dict[str, Any] = {
    "time_scale": 300.0,
    "resync_interval": 2.0,
    "health_interval": 0.5,
    "active_requeue": 0.2,
}
# Slow enough that each step of a flow lasts real seconds (kills must land inside a step).
STEPPED: dict[str, Any] = {
    "time_scale": 40.0,
    "resync_interval": 2.0,
    "health_interval": 1.0,
    "active_requeue": 0.3,
}
OWNER_TAG = "azbatch.dev/owner"
VMC = ("deploymentConfiguration", "virtualMachineConfiguration")


def extensions_of(manifest: dict[str, Any]) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = manifest["spec"][VMC[0]][VMC[1]]["extensions"]
    return found


def ensure_namespace(sandbox: Sandbox, name: str) -> None:
    sandbox.kube.apply({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})


def create_secret(sandbox: Sandbox, namespace: str, name: str, values: Mapping[str, str]) -> None:
    sandbox.kube.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": namespace},
            "stringData": dict(values),
        }
    )


# -- the truth on the Azure side ---------------------------------------------------------------


@contextlib.contextmanager
def management_client(
    sandbox: Sandbox, subscription_id: str | None = None
) -> Iterator[BatchManagementClient]:
    """The unmodified SDK with real tokens, as the Azure portal or az CLI would read the account."""
    info = sandbox.info
    credential = secret_credential(info)
    client = BatchManagementClient(
        credential,
        subscription_id or info["subscription_id"],
        base_url=info["management_endpoint"],
        connection_verify=info["ca_bundle"],
    )
    try:
        yield client
    finally:
        client.close()
        credential.close()


def azure_pool(sandbox: Sandbox, name: str) -> dict[str, Any] | None:
    info = sandbox.info
    with management_client(sandbox) as client:
        try:
            return dict(client.pool.get(info["resource_group"], info["account_name"], name).as_dict())
        except ResourceNotFoundError:
            return None


def azure_pools(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    """Every pool of the emulator's account, by name."""
    info = sandbox.info
    with management_client(sandbox) as client:
        return {
            str(pool.name): dict(pool.as_dict())
            for pool in client.pool.list_by_batch_account(info["resource_group"], info["account_name"])
        }


def owner_of(pool: Mapping[str, Any] | None) -> str | None:
    for item in ((pool or {}).get("properties") or pool or {}).get("metadata") or ():
        if item.get("name") == OWNER_TAG:
            return str(item.get("value"))
    return None


def pool_id(sandbox: Sandbox, name: str) -> str:
    return f"{sandbox.info['account_id']}/pools/{name}"


def calls_that_reached_azure(sandbox: Sandbox) -> dict[str, int]:
    """Calls per "<METHOD> <route>" that the service handled: the emulator's counters minus the calls an
    injected fault answered or dropped and those ARM's throttle refused (neither reached the service's
    logic, so they did nothing; a latency-only fault delays a call that then goes through). The
    emulator's "<status> <METHOD> <route>" keys count calls already counted under their route; they
    are not routes, so they are not returned."""
    everything = sandbox.admin.counters()
    counts = {key: value for key, value in everything.items() if not key.partition(" ")[0].isdigit()}
    refused = {key.partition(" ")[2]: value for key, value in everything.items() if key.startswith("429 ")}
    for fault in sandbox.admin.faults():
        if not fault["hits"] or not (fault["status"] or fault["drop_connection"]):
            continue
        keys = [
            key
            for key in counts
            if fnmatch.fnmatchcase(key.partition(" ")[2], fault["route"])
            and fnmatch.fnmatchcase(key.partition(" ")[0], fault["method"].upper())
        ]
        if len(keys) != 1:
            raise AssertionError(f"fault {fault} matches {keys}: target faults at one method and route")
        counts[keys[0]] -= fault["hits"]
        if fault["status"] == 429:  # an injected 429 is counted under "429 ...": not ARM's throttle
            refused[keys[0]] = refused.get(keys[0], 0) - fault["hits"]
    for key, throttled in refused.items():
        counts[key] = counts.get(key, 0) - max(throttled, 0)
    return counts


# -- the truth on the Kubernetes side ------------------------------------------------------------


def converged(sandbox: Sandbox, name: str, namespace: str = "default", **pool_fields: Any) -> bool:
    """Ready for the current generation, no recreate under way, and the pool status as asked."""
    obj = sandbox.pool(name, namespace) or {}
    status = obj.get("status") or {}
    pool = status.get("pool") or {}
    return (
        condition(obj, "Ready").get("status") == "True"
        and status.get("observedGeneration") == (obj.get("metadata") or {}).get("generation")
        and not status.get("recreate")
        and all(pool.get(key) == value for key, value in pool_fields.items())
    )


def wait_converged(
    sandbox: Sandbox, name: str, namespace: str = "default", *, timeout: float = 90.0, **pool_fields: Any
) -> dict[str, Any]:
    wait_until(
        lambda: converged(sandbox, name, namespace, **pool_fields),
        timeout=timeout,
        interval=0.1,
        what=f"{namespace}/{name} converged {pool_fields or ''}".strip(),
    )
    found = sandbox.pool(name, namespace)
    assert found is not None
    return found


def finalizers(obj: Mapping[str, Any] | None) -> list[str]:
    return list(((obj or {}).get("metadata") or {}).get("finalizers") or ())


# -- a wire that can be cut ------------------------------------------------------------------------


class CuttableWire:
    """A loopback TCP relay in its own thread; `cut()` aborts every open connection through it.

    Between the operator and the Kubernetes API (the stand-in's plain HTTP or a real server's TLS,
    relayed byte for byte) this is a network blip: the watch streams
    and any request in flight die mid-way, exactly as when an API server restarts or a load
    balancer drops idle streams. New connections are relayed as before.
    """

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cuttable-wire", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> CuttableWire:
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("the relay did not start")
        return self

    def cut(self) -> int:
        """Abort every connection open now; returns how many sockets were cut."""
        assert self._loop is not None

        async def abort() -> int:
            writers = list(self._writers)
            for writer in writers:
                writer.transport.abort()
            self._writers.clear()
            return len(writers)

        return asyncio.run_coroutine_threadsafe(abort(), self._loop).result(10)

    def stop(self) -> None:
        if self._loop is not None and self._server is not None:
            self._loop.call_soon_threadsafe(self._server.close)
            self.cut()
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(asyncio.start_server(self._relay, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        loop.run_forever()

    async def _relay(self, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
        try:
            server_reader, server_writer = await asyncio.open_connection(*self.target)
        except OSError:
            client_writer.transport.abort()
            return
        self._writers.update((client_writer, server_writer))

        async def pump(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while chunk := await reader.read(65536):
                    writer.write(chunk)
                    await writer.drain()
            with contextlib.suppress(OSError, RuntimeError):
                writer.close()

        await asyncio.gather(pump(client_reader, server_writer), pump(server_reader, client_writer))
        self._writers.difference_update((client_writer, server_writer))


def route_operator_through(sandbox: Sandbox, wire: CuttableWire) -> None:
    """Restart the operator so that it reaches Kubernetes only through `wire` (tests keep the direct line)."""
    sandbox.stop_operator()
    kubeconfig = sandbox.write_operator_kubeconfig(
        Path(sandbox.workdir) / "kubeconfig-via-wire", port=wire.port
    )
    sandbox.env["KUBECONFIG"] = str(kubeconfig)
    os.environ["KUBECONFIG"] = str(kubeconfig)  # the in-process operator reads it from the environment
    sandbox.start_operator()
