"""Data-plane reads for node and extension health, and the one node write (remove nodes)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from azure.batch.models import BatchNodeRemoveOptions
from azure.core.exceptions import HttpResponseError
from azure.core.rest import HttpRequest

from azbatch_operator.cloud.clients import BATCH_API_VERSION, AccountRef, AzureClients
from azbatch_operator.cloud.errors import AzureCallError, translate
from azbatch_operator.health import NodeSummary, parse_node

NodeCounts = dict[str, Any]
COUNTS_PAGE = 10  # pools per page of node counts: the service's maximum
# What the node list asks for: enough to say why a node fails, nothing per task.
NODE_FIELDS = ["id", "state", "isDedicated", "startTaskInfo", "errors"]


def counted_nodes(counts: NodeCounts) -> int:
    """All nodes a pool's entry of the node-counts call shows, dedicated and spot."""
    return sum(int((counts.get(kind) or {}).get("total") or 0) for kind in ("dedicated", "lowPriority"))


class NodeGateway:
    def __init__(self, clients: AzureClients, *, concurrency: int = 16) -> None:
        self._clients = clients
        self._limit = asyncio.Semaphore(concurrency)

    async def node_counts(self, account: AccountRef) -> dict[str, NodeCounts]:
        """Node counts by state for every pool of the account: one paged call.

        The service returns at most 10 pools a page, so 1,000 pools are 100 requests an interval:
        they are read as JSON through the client's own pipeline (credential, retries), not turned
        into models and back. A page the service refuses is asked again the SDK's way, which raises
        its error as the SDK does (code, message, Retry-After)."""
        client = await self._clients.data(account)
        counts: dict[str, NodeCounts] = {}
        url: str | None = f"/nodecounts?{urlencode({'api-version': BATCH_API_VERSION, 'maxresults': 10})}"
        try:
            while url:
                response = await client.send_request(HttpRequest("GET", url), stream=True)
                await response.read()
                if response.status_code != 200:
                    async for _ in client.list_pool_node_counts():
                        pass  # raises the service's error; should it not, the JSON path gave up
                    raise HttpResponseError(response=response)
                page = response.json()
                for data in page.get("value") or ():
                    counts[str(data.get("poolId", ""))] = data
                url = page.get("odata.nextLink")
        except Exception as error:
            raise translate("GET nodecounts", error) from error
        return counts

    async def list_nodes(self, account: AccountRef, pool: str) -> list[NodeSummary]:
        """Every node (1,000 per page) with its state and, for a failing node, Azure's cause: the
        cheap overview node and extension health start from."""
        client = await self._clients.data(account)
        nodes: list[NodeSummary] = []
        try:
            async for node in client.list_nodes(pool, select=NODE_FIELDS):
                nodes.append(parse_node(node.as_dict()))
        except Exception as error:
            raise translate("GET nodes", error) from error
        return nodes

    async def extensions(
        self, account: AccountRef, pool: str, node_ids: Sequence[str]
    ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
        """Extension instance views of the chosen nodes, a few at a time: (views by node, error by
        node). One node's failed read costs that node only."""
        client = await self._clients.data(account)

        async def one(node_id: str) -> list[dict[str, Any]]:
            async with self._limit:
                try:
                    return [item.as_dict() async for item in client.list_node_extensions(pool, node_id)]
                except Exception as error:
                    raise translate("GET extensions", error) from error

        results = await asyncio.gather(*(one(node_id) for node_id in node_ids), return_exceptions=True)
        views: dict[str, list[dict[str, Any]]] = {}
        errors: dict[str, str] = {}
        for node_id, result in zip(node_ids, results, strict=True):
            if isinstance(result, AzureCallError):
                errors[node_id] = str(result)
            elif isinstance(result, BaseException):
                if not isinstance(result, Exception):
                    raise result  # cancellation and the like are not a node's problem
                errors[node_id] = f"{type(result).__name__}: {result}"
            else:
                views[node_id] = result
        return views, errors

    async def remove_nodes(
        self,
        account: AccountRef,
        pool: str,
        node_ids: Sequence[str],
        *,
        deallocation: str,
        resize_timeout: timedelta | None = None,
    ) -> None:
        """`POST /pools/{pool}/removenodes` (at most 100 nodes; Azure refuses it while the pool resizes).

        Sends the request and returns: the pool shows the removal as a resize, read on the next pass."""
        client = await self._clients.data(account)
        options = BatchNodeRemoveOptions(
            node_ids=list(node_ids)[:100],
            node_deallocation_option=deallocation.lower(),
            resize_timeout=resize_timeout,
        )
        try:
            await client.begin_remove_nodes(pool, options)
        except Exception as error:
            raise translate("POST removenodes", error) from error
