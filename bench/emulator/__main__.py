"""Requests per second and memory of the emulator with 1,000 pools of 50 nodes each.

The emulator runs as its own process (`EmulatorProcess`, per-request logging off); this process
creates the pools over HTTPS, lets the simulated clock run until every node is idle, then drives
a read-heavy mix like the operator's (pool GETs, pool list pages, node lists, node counts, node
extension reads) with real bearer tokens from the emulator's token endpoint. A second, shorter
phase drives the same pool GET through the unmodified async azure-mgmt-batch client.

    python -m bench.emulator [--pools 1000] [--nodes 50] [--seconds 10] [--concurrency 32] [--json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import ssl
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import aiohttp
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.batch.aio import BatchManagementClient

from azbatch_emulator import EmulatorProcess
from azbatch_emulator.admin import AdminClient
from azbatch_emulator.sdk import async_secret_credential

ACCOUNT = "benchacct"
GROUP = "bench-rg"


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def pool_body(nodes: int) -> dict[str, Any]:
    return {
        "properties": {
            "vmSize": "STANDARD_D2S_V3",
            "deploymentConfiguration": {
                "virtualMachineConfiguration": {
                    "imageReference": {
                        "publisher": "Canonical",
                        "offer": "ubuntu-24_04-lts",
                        "sku": "server",
                    },
                    "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                    "extensions": [
                        {
                            "name": "secretext",
                            "type": "KeyVaultForLinux",
                            "publisher": "Microsoft.Azure.KeyVault",
                            "typeHandlerVersion": "3.0",
                            "autoUpgradeMinorVersion": True,
                            "settings": {"secretsManagementSettings": {"requireInitialSync": True}},
                        }
                    ],
                }
            },
            "scaleSettings": {"fixedScale": {"targetDedicatedNodes": nodes, "resizeTimeout": "PT30M"}},
            "metadata": [{"name": "azbatch.dev/owner", "value": "bench/default/pool"}],
        }
    }


class Driver:
    def __init__(self, info: dict[str, Any], tokens: dict[str, str], pools: int) -> None:
        self.info = info
        self.mgmt_headers = {"Authorization": f"Bearer {tokens['mgmt']}", "Content-Type": "application/json"}
        self.batch_headers = {"Authorization": f"Bearer {tokens['batch']}"}
        self.account_url = (
            f"{info['management_endpoint'].rstrip('/')}/subscriptions/{info['subscription_id']}"
            f"/resourceGroups/{GROUP}/providers/Microsoft.Batch/batchAccounts/{ACCOUNT}"
        )
        self.batch_url = f"https://{info['account_endpoint'].rsplit('/', 1)[0]}/{ACCOUNT}"
        self.pools = pools
        self.nodes: dict[int, list[str]] = {}
        self.latencies: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    async def request(self, session: aiohttp.ClientSession, op: str, method: str, url: str, **kw: Any) -> Any:
        started = time.perf_counter()
        async with session.request(method, url, **kw) as response:
            body = await response.read()
            self.latencies[op].append(time.perf_counter() - started)
            if response.status >= 400:
                self.errors[f"{op} {response.status}"] += 1
                return None
            return json.loads(body) if body else None

    async def populate(self, session: aiohttp.ClientSession, nodes: int, concurrency: int) -> None:
        queue: asyncio.Queue[int] = asyncio.Queue()
        for index in range(self.pools):
            queue.put_nowait(index)
        body = json.dumps(pool_body(nodes))

        async def worker() -> None:
            while not queue.empty():
                index = queue.get_nowait()
                await self.request(
                    session,
                    "PUT pool",
                    "PUT",
                    f"{self.account_url}/pools/pool{index:05d}?api-version=2025-06-01",
                    data=body,
                    headers=self.mgmt_headers,
                )

        await asyncio.gather(*(worker() for _ in range(concurrency)))

    async def one(self, session: aiohttp.ClientSession, rng: random.Random) -> None:
        index = rng.randrange(self.pools)
        pool = f"pool{index:05d}"
        roll = rng.random()
        if roll < 0.35:
            await self.request(
                session,
                "GET pool",
                "GET",
                f"{self.account_url}/pools/{pool}?api-version=2025-06-01",
                headers=self.mgmt_headers,
            )
        elif roll < 0.45:
            skip = f"&$skiptoken=pool{rng.randrange(self.pools):05d}"
            await self.request(
                session,
                "GET pools page",
                "GET",
                f"{self.account_url}/pools?api-version=2025-06-01&maxresults=20{skip}",
                headers=self.mgmt_headers,
            )
        elif roll < 0.70:
            data = await self.request(
                session,
                "GET nodes",
                "GET",
                f"{self.batch_url}/pools/{pool}/nodes?api-version=2025-06-01",
                headers=self.batch_headers,
            )
            if data:
                self.nodes[index] = [n["id"] for n in data["value"]]
        elif roll < 0.80:
            await self.request(
                session,
                "GET nodecounts",
                "GET",
                f"{self.batch_url}/nodecounts?api-version=2025-06-01&$filter=poolId eq '{pool}'",
                headers=self.batch_headers,
            )
        else:
            node_ids = self.nodes.get(index)
            if not node_ids:
                return await self.one(session, rng)
            await self.request(
                session,
                "GET extension",
                "GET",
                f"{self.batch_url}/pools/{pool}/nodes/{rng.choice(node_ids)}/extensions/secretext?api-version=2025-06-01",
                headers=self.batch_headers,
            )
        return None

    async def mix(
        self, session: aiohttp.ClientSession, seconds: float, concurrency: int
    ) -> tuple[int, float]:
        self.latencies.clear()
        deadline = time.perf_counter() + seconds
        done = 0

        async def worker(seed: int) -> None:
            nonlocal done
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                await self.one(session, rng)
                done += 1

        started = time.perf_counter()
        await asyncio.gather(*(worker(i) for i in range(concurrency)))
        return done, time.perf_counter() - started


async def tokens_for(info: dict[str, Any]) -> tuple[dict[str, str], ClientSecretCredential]:
    credential = async_secret_credential(info)
    mgmt = await credential.get_token(info["management_scope"])
    batch = await credential.get_token(info["batch_scope"])
    return {"mgmt": mgmt.token, "batch": batch.token}, credential


async def sdk_phase(
    info: dict[str, Any], credential: ClientSecretCredential, pools: int, seconds: float
) -> float:
    client = BatchManagementClient(
        credential,
        info["subscription_id"],
        base_url=info["management_endpoint"],
        credential_scopes=[info["management_scope"]],
        connection_verify=info["ca_cert"],
    )
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker(seed: int) -> None:
        nonlocal done
        rng = random.Random(seed)
        while time.perf_counter() < deadline:
            await client.pool.get(GROUP, ACCOUNT, f"pool{rng.randrange(pools):05d}")
            done += 1

    started = time.perf_counter()
    async with client:
        await asyncio.gather(*(worker(i) for i in range(8)))
    return done / (time.perf_counter() - started)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    with EmulatorProcess(time_scale=60.0, extra_args=["--quiet"]) as process:
        info = process.info
        pid = int(info["pid"])
        admin = AdminClient(info)
        cores = args.pools * args.nodes * 2
        admin.create_account(
            ACCOUNT,
            resource_group=GROUP,
            dedicated_core_quota=cores,
            low_priority_core_quota=0,
            pool_quota=args.pools,
        )
        result: dict[str, Any] = {
            "pools": args.pools,
            "nodes_per_pool": args.nodes,
            "rss_mib_idle": rss_mib(pid),
        }
        tokens, credential = await tokens_for(info)
        context = ssl.create_default_context(cafile=info["ca_cert"])
        connector = aiohttp.TCPConnector(ssl=context, limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            driver = Driver(info, tokens, args.pools)
            started = time.perf_counter()
            await driver.populate(session, args.nodes, args.concurrency)
            elapsed = time.perf_counter() - started
            result["create_pools_per_s"] = args.pools / elapsed
            admin.advance_clock(6 * 3600)  # every resize done, every node idle
            result["rss_mib_populated"] = rss_mib(pid)
            await driver.mix(session, 1.0, args.concurrency)  # warm up: node ids, caches
            done, elapsed = await driver.mix(session, args.seconds, args.concurrency)
            result["mixed_requests"] = done
            result["mixed_requests_per_s"] = done / elapsed
            result["latency_ms"] = {
                op: {
                    "count": len(values),
                    "p50": statistics.median(values) * 1000,
                    "p99": sorted(values)[int(len(values) * 0.99) - 1] * 1000
                    if len(values) > 1
                    else values[0] * 1000,
                }
                for op, values in sorted(driver.latencies.items())
            }
            result["errors"] = dict(driver.errors)
            result["rss_mib_after"] = rss_mib(pid)
        result["sdk_pool_get_per_s"] = await sdk_phase(info, credential, args.pools, min(args.seconds, 5.0))
        await credential.close()
        nodes_seen = sum(v for k, v in admin.counters().items() if k.startswith("GET batch.nodes"))
        result["node_list_calls"] = nodes_seen
    return result


def report(result: dict[str, Any]) -> str:
    lines = [
        f"pools x nodes           {result['pools']} x {result['nodes_per_pool']}",
        f"pool creation           {result['create_pools_per_s']:.0f} PUT/s",
        f"mixed read workload     {result['mixed_requests_per_s']:.0f} requests/s (target >= 500)",
        f"azure-mgmt-batch GET    {result['sdk_pool_get_per_s']:.0f} requests/s (8 concurrent, client-bound)",
        f"emulator RSS            {result['rss_mib_idle']:.0f} MiB idle, "
        f"{result['rss_mib_populated']:.0f} MiB populated, {result['rss_mib_after']:.0f} MiB after the run",
        "latency by operation    count      p50 ms   p99 ms",
    ]
    for op, stats in result["latency_ms"].items():
        lines.append(f"  {op:<20} {stats['count']:>8}  {stats['p50']:>8.1f} {stats['p99']:>8.1f}")
    if result["errors"]:
        lines.append(f"errors                  {result['errors']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.emulator", description=__doc__.splitlines()[0])
    parser.add_argument("--pools", type=int, default=1000)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the mixed phase")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    result = asyncio.run(run(args))
    print(json.dumps(result, indent=2) if args.json else report(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
