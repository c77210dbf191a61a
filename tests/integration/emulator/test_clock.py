"""One clock story: simulated time speeds up durations, every timestamp the emulator writes is a
wall-clock instant (docs/emulator.md, "Time").

The emulator used to stamp simulated instants that ran `time_scale` times faster than the wall clock
from its start, so after a minute at x60 a pool created "now" said it was created an hour from now,
hours after `status.recreate.started` that the operator wrote in real time.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import re
import ssl
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from azbatch_emulator import EmulatorProcess, EmulatorThread, clock
from azbatch_emulator.admin import AdminClient
from azbatch_emulator.clock import SimClock

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?Z")
SLACK = 2.0  # seconds: a busy 2-core machine between reading the wall clock and the answer


class FakeTime:
    """`time.time` and `time.monotonic` that move only when told (the clock module's view of time)."""

    def __init__(self) -> None:
        self.wall = 1_800_000_000.0
        self.mono = 1000.0

    def time(self) -> float:
        return self.wall

    def monotonic(self) -> float:
        return self.mono

    def sleep(self, seconds: float) -> None:
        self.wall += seconds
        self.mono += seconds


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(clock, "time", fake)
    return fake


# -- the calendar, on a fake wall clock ----------------------------------------------------------


def test_a_minute_at_x60_runs_an_hour_of_simulation_but_stamps_the_wall_clock(fake_time: FakeTime) -> None:
    sim = SimClock(60.0)
    started = sim.now()
    fake_time.sleep(60)
    assert sim.now() - started == pytest.approx(3600)  # the simulation: an hour of node timings
    assert sim.wall(sim.now()) == pytest.approx(fake_time.wall)  # the calendar: a minute later
    stamp = dt.datetime.fromisoformat(sim.iso(sim.now()).replace("Z", "+00:00")).timestamp()
    assert stamp == pytest.approx(fake_time.wall, abs=1e-5)


def test_a_rendered_instant_never_changes_and_never_lies_ahead(fake_time: FakeTime) -> None:
    sim = SimClock(60.0)
    seen: dict[float, str] = {}

    def observe() -> None:
        now = sim.now()
        seen[now] = sim.iso(now)
        assert sim.wall(now) <= fake_time.wall + 1e-6, "a timestamp in the future"

    for step in (
        lambda: fake_time.sleep(10),
        lambda: sim.advance(600),  # ten simulated minutes in no time: stamped now, not 10 s ahead
        lambda: fake_time.sleep(5),
        sim.pause,
        lambda: fake_time.sleep(30),  # paused: the calendar stays at the paused instant
        lambda: sim.advance(120),
        sim.resume,
        lambda: fake_time.sleep(3),
    ):
        step()
        observe()
        for instant, text in seen.items():
            assert sim.iso(instant) == text, "an instant already written moved"
    assert sim.wall(sim.now()) == pytest.approx(fake_time.wall), "running again: the wall clock"


def test_a_restart_keeps_the_calendar_of_what_came_before(fake_time: FakeTime, tmp_path: Path) -> None:
    calendar = tmp_path / clock.CALENDAR_FILE
    first = SimClock(60.0, calendar_file=calendar)
    fake_time.sleep(20)
    created = first.now()
    written = first.iso(created)
    fake_time.sleep(100)  # the emulator is down for a while; the simulation pauses meanwhile
    again = SimClock(120.0, start=created, calendar_file=calendar)
    assert again.now() == created, "the simulation resumes where it stood"
    assert again.iso(created) == written, "an instant written before the restart reads the same"
    fake_time.sleep(1)
    assert again.wall(again.now()) == pytest.approx(fake_time.wall), "and new instants are wall time"
    assert again.now() - created == pytest.approx(120)


def test_client_timestamps_are_read_on_the_same_calendar(fake_time: FakeTime) -> None:
    sim = SimClock(60.0)
    fake_time.sleep(30)
    now = sim.now()
    assert sim.parse(sim.iso(now)) == pytest.approx(now, abs=1e-3)
    assert sim.parse("2027-01-15T08:00:00+00:00") == pytest.approx(
        sim.simulated(dt.datetime(2027, 1, 15, 8, tzinfo=dt.UTC).timestamp())
    )


def test_iso_renders_on_the_calendar_even_before_a_clock_was_read_in_this_context(
    fake_time: FakeTime,
) -> None:
    sim = SimClock(60.0)
    fake_time.sleep(60)
    now = sim.now()
    fresh = contextvars.Context()  # a task that never read the clock
    assert fresh.run(clock.iso, now) == sim.iso(now)


# -- a real emulator over HTTPS --------------------------------------------------------------------


POOL = {
    "properties": {
        "vmSize": "STANDARD_D2S_V3",
        "deploymentConfiguration": {
            "virtualMachineConfiguration": {
                "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
                "nodeAgentSkuId": "batch.node.ubuntu 24.04",
                "extensions": [
                    {
                        "name": "monitor",
                        "type": "AzureMonitorLinuxAgent",
                        "publisher": "Microsoft.Azure.Monitor",
                        "typeHandlerVersion": "1.0",
                    }
                ],
            }
        },
        "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2}},
    }
}


class Raw:
    """The emulator's JSON as it goes on the wire (so every timestamp field is seen, SDK or not)."""

    def __init__(self, info: dict[str, Any]) -> None:
        self.info = info
        admin = AdminClient(info)
        self.tokens = {
            "mgmt": admin.issue_token(audience=info["management_audience"]),
            "batch": admin.issue_token(audience=info["batch_audience"]),
        }
        self.ssl = ssl.create_default_context(cafile=info["ca_cert"])

    def pool_url(self, name: str) -> str:
        return f"{self.info['management_endpoint'].rstrip('/')}{self.info['account_id']}/pools/{name}"

    def call(self, method: str, url: str, body: Any = None) -> Any:
        plane = "batch" if "/batch/" in url else "mgmt"
        version = "2025-06-01"
        request = urllib.request.Request(
            f"{url}{'&' if '?' in url else '?'}api-version={version}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {self.tokens[plane]}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30, context=self.ssl) as response:
            return json.loads(response.read() or b"null")

    def create(self, name: str) -> dict[str, Any]:
        created: dict[str, Any] = self.call("PUT", self.pool_url(name), POOL)
        return created

    def everything(self, name: str) -> list[Any]:
        """The pool, its nodes and every node's extensions."""
        batch = self.info["batch_endpoint"]
        documents = [self.call("GET", self.pool_url(name))]
        nodes = self.call("GET", f"{batch}/pools/{name}/nodes")["value"]
        documents.append(nodes)
        for node in nodes:
            documents.append(self.call("GET", f"{batch}/pools/{name}/nodes/{node['id']}/extensions"))
        return documents


def stamps(document: Any) -> list[float]:
    found = TIMESTAMP.findall(json.dumps(document))
    return [dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() for text in found]


@pytest.fixture
def fast_emulator() -> Iterator[EmulatorThread]:
    with EmulatorThread(time_scale=3600.0) as running:  # a second of it: a minute at x60, and more
        yield running


def test_a_pool_created_after_a_simulated_hour_says_it_was_created_now(fast_emulator: EmulatorThread) -> None:
    raw = Raw(fast_emulator.info)
    time.sleep(1.0)  # 3,600 simulated seconds: what a minute of a x60 demo runs
    before = time.time()
    created = raw.create("stamped")
    after = time.time()
    creation = stamps(created["properties"]["creationTime"])[0]
    assert before - SLACK <= creation <= after + 1e-3, (created["properties"]["creationTime"], before)


def test_no_timestamp_is_in_the_future(fast_emulator: EmulatorThread) -> None:
    raw = Raw(fast_emulator.info)
    admin = AdminClient(fast_emulator.info)
    started = time.time()
    raw.create("everywhere")
    admin.advance_clock(1800)  # allocated, booted, extensions provisioned: every node timestamp set
    time.sleep(0.2)
    documents = raw.everything("everywhere")
    read = time.time()
    seen = [moment for document in documents for moment in stamps(document)]
    assert len(seen) > 10, documents
    future = [dt.datetime.fromtimestamp(m, dt.UTC).isoformat() for m in seen if m > read + 1e-3]
    assert not future, f"timestamps after {dt.datetime.fromtimestamp(read, dt.UTC).isoformat()}: {future}"
    assert min(seen) >= started - SLACK, "and none from before the emulator started"


def test_a_restarted_emulator_keeps_its_timestamps_and_stays_on_the_wall_clock(tmp_path: Path) -> None:
    with EmulatorProcess(state_dir=tmp_path, time_scale=600.0, extra_args=["--quiet"]) as process:
        raw = Raw(process.info)
        first = raw.create("before-restart")["properties"]["creationTime"]
        time.sleep(1.5)  # the clock is saved every second
        process.restart(kill=True)
        raw = Raw(process.info)
        assert raw.call("GET", raw.pool_url("before-restart"))["properties"]["creationTime"] == first
        time.sleep(0.5)
        before = time.time()
        second = stamps(raw.create("after-restart")["properties"]["creationTime"])[0]
        assert before - SLACK <= second <= time.time() + 1e-3
        process.restart()  # a clean stop and start
        raw = Raw(process.info)
        assert raw.call("GET", raw.pool_url("before-restart"))["properties"]["creationTime"] == first
