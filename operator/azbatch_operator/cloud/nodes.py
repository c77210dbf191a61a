"""Data-plane reads for extension health: node counts per account, node states, extension views."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from azbatch_operator.cloud.clients import AccountRef, AzureClients
from azbatch_operator.cloud.errors import translate
from azbatch_operator.health import NodeSummary

NodeCounts = dict[str, Any]


class NodeGateway:
    def __init__(self, clients: AzureClients, *, concurrency: int = 8) -> None:
        self._clients = clients
        self._limit = asyncio.Semaphore(concurrency)

    async def node_counts(self, account: AccountRef) -> dict[str, NodeCounts]:
        """Node counts by state for every pool of the account: one paged call."""
        client = await self._clients.data(account)
        counts: dict[str, NodeCounts] = {}
        try:
            async for item in client.list_pool_node_counts():
                data = item.as_dict()
                counts[str(data.get("poolId", ""))] = data
        except Exception as error:
            raise translate("GET nodecounts", error) from error
        return counts

    async def list_nodes(self, account: AccountRef, pool: str) -> list[NodeSummary]:
        """Id and state of every node (1,000 per page): the cheap overview health sampling starts from."""
        client = await self._clients.data(account)
        nodes: list[NodeSummary] = []
        try:
            async for node in client.list_nodes(pool, select=["id", "state"]):
                nodes.append(NodeSummary(str(node.id), str(node.state or "unknown")))
        except Exception as error:
            raise translate("GET nodes", error) from error
        return nodes

    async def extensions(
        self, account: AccountRef, pool: str, node_ids: Sequence[str]
    ) -> dict[str, list[dict[str, Any]]]:
        """Extension instance views of the chosen nodes, a few at a time."""
        client = await self._clients.data(account)

        async def one(node_id: str) -> tuple[str, list[dict[str, Any]]]:
            async with self._limit:
                try:
                    items = [item.as_dict() async for item in client.list_node_extensions(pool, node_id)]
                except Exception as error:
                    raise translate("GET extensions", error) from error
                return node_id, items

        return dict(await asyncio.gather(*(one(node_id) for node_id in node_ids)))
