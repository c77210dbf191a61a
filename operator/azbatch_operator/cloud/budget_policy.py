"""Spends the subscription's request budget (`request_budget`) before each management request is
sent: an azure-core pipeline policy on the subscription's one management client.

Placed per retry (after azure-core's RetryPolicy), so a retry takes a token like any request: to ARM
it is one. Data-plane calls (the Batch account's own endpoint) are not ARM's and spend nothing.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy

from azbatch_operator.metrics import ARM_BUDGET_WAIT_SECONDS, ARM_BUDGET_WAITS
from azbatch_operator.request_budget import KINDS, BudgetLimits, TokenBucket, kind_of


class RequestBudgetPolicy(AsyncHTTPPolicy[Any, Any]):
    def __init__(
        self,
        limits: BudgetLimits,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__()
        self._clock, self._sleep = clock, sleep
        now = clock()
        self._buckets = {kind: TokenBucket(limits.of(kind), now) for kind in KINDS}

    async def send(self, request: PipelineRequest[Any]) -> PipelineResponse[Any, Any]:
        kind = kind_of(request.http_request.method)
        wait = self._buckets[kind].take(self._clock())
        if wait > 0:
            ARM_BUDGET_WAITS.labels(kind).inc()
            ARM_BUDGET_WAIT_SECONDS.labels(kind).inc(wait)
            await self._sleep(wait)
        response: PipelineResponse[Any, Any] = await self.next.send(request)
        return response
