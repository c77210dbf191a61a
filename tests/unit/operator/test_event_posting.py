"""Events reach the API server in the order they were told for each object, several objects at once."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import pytest
from aiohttp import web
from kubernetes import client as k8s

from azbatch_operator.convergence import DISRUPTION_NOTICES
from azbatch_operator.kube import loop_writes
from azbatch_operator.kube.loop_writes import LoopWriter


async def _post_through(events: list[tuple[str, str]]) -> tuple[list[dict[str, Any]], int]:
    """Tell `events` ((object, reason)) to a LoopWriter in front of a server that takes 20 ms an Event:
    what the server received, in order, and the most requests it had at once."""
    received: list[dict[str, Any]] = []
    in_flight, most = 0, 0

    async def post(request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        await asyncio.sleep(0.02)
        received.append(await request.json())
        in_flight -= 1
        return web.json_response({}, status=201)

    app = web.Application()
    app.router.add_post("/api/v1/namespaces/{namespace}/events", post)
    runner = web.AppRunner(app)
    await runner.setup()
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    await web.SockSite(runner, sock).start()
    writer = LoopWriter(k8s.Configuration(host=f"http://127.0.0.1:{port}"))
    try:
        for name, reason in events:
            involved = {"apiVersion": "azbatch.dev/v1alpha1", "kind": "BatchPool", "namespace": "ns"}
            writer.event(
                {**involved, "name": name, "uid": f"uid-{name}"}, "Normal", reason, f"{name} {reason}"
            )
        await writer.close()  # posts what is still waiting
    finally:
        await runner.cleanup()
    return received, most


def test_each_objects_events_arrive_in_order_and_objects_go_side_by_side() -> None:
    told = [(f"pool-{i}", reason) for reason in ("Creating", "Created", "Ready") for i in range(12)]
    received, most = asyncio.run(_post_through(told))
    assert len(received) == len(told), "every Event told is posted before the writer closes"
    for i in range(12):
        reasons = [e["reason"] for e in received if e["involvedObject"]["name"] == f"pool-{i}"]
        assert reasons == ["Creating", "Created", "Ready"], f"pool-{i}'s Events in the order told"
    assert most > 1, "Events of different objects are posted at once, not one at a time"


def test_one_objects_events_are_never_posted_at_once() -> None:
    received, most = asyncio.run(_post_through([("pool-0", f"Step{i}") for i in range(6)]))
    assert [e["reason"] for e in received] == [f"Step{i}" for i in range(6)]
    assert most == 1


def test_a_full_lane_drops_routine_events_but_never_the_notice_of_a_disruption(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A cold start of thousands of pools can fill the queues with Created and Ready; an Event that
    tells of nodes or a pool being taken away still goes out, after what was told before it."""
    monkeypatch.setattr(loop_writes, "EVENT_QUEUE", 2 * loop_writes.EVENT_LANES)  # room for 2 a lane
    told = [("pool-0", f"Routine{i}") for i in range(5)]
    told += [("pool-0", reason) for reason in sorted(DISRUPTION_NOTICES)]
    told += [("pool-0", "Routine5")]
    received, _ = asyncio.run(_post_through(told))
    assert [e["reason"] for e in received] == ["Routine0", "Routine1", *sorted(DISRUPTION_NOTICES)]
