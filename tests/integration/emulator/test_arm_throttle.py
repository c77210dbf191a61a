"""ARM's request throttle as the unmodified azure-mgmt-batch client meets it: the documented limits
and headers, 429 `SubscriptionRequestsThrottled` with `Retry-After`, azure-core's retry policy
waiting it out, refills on the emulator's clock, separate buckets per kind, subscription and
principal, the switch, and the admin statistics (docs/emulator.md, "ARM request throttling").

The `admin` fixture pauses the simulated clock, so buckets refill only when a test advances it."""

from __future__ import annotations

import asyncio
import math
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from azure.batch.aio import BatchClient
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.core.rest import HttpRequest
from azure.identity.aio import ClientSecretCredential
from azure.mgmt.batch.aio import BatchManagementClient
from emulator_helpers import StaticToken, management_client, small_pool

from azbatch_emulator import EmulatorProcess, EmulatorThread
from azbatch_emulator.admin import AdminClient, AdminError, AsyncAdminClient

READS = "x-ms-ratelimit-remaining-subscription-reads"
WRITES = "x-ms-ratelimit-remaining-subscription-writes"
DELETES = "x-ms-ratelimit-remaining-subscription-deletes"
GLOBAL_READS = "x-ms-ratelimit-remaining-subscription-global-reads"
GLOBAL_WRITES = "x-ms-ratelimit-remaining-subscription-global-writes"
GLOBAL_DELETES = "x-ms-ratelimit-remaining-subscription-global-deletes"
OTHER_SUBSCRIPTION = "22222222-2222-2222-2222-222222222222"
DOCUMENTED = {
    "reads": {"bucket": 250, "refill_per_second": 25.0},
    "writes": {"bucket": 200, "refill_per_second": 10.0},
    "deletes": {"bucket": 200, "refill_per_second": 10.0},
}


class Seen:
    """The headers of every response a client call received (azure-core's `raw_response_hook`)."""

    def __init__(self) -> None:
        self.responses: list[dict[str, str]] = []

    def __call__(self, response: Any) -> None:
        self.responses.append({k.lower(): v for k, v in response.http_response.headers.items()})

    @property
    def last(self) -> dict[str, str]:
        return self.responses[-1]


@pytest.fixture
async def strict(
    info: dict[str, Any], credential: ClientSecretCredential
) -> AsyncIterator[BatchManagementClient]:
    """A management client without retries: every 429 reaches the test."""
    async with management_client(info, credential, retry_total=0) as client:
        yield client


async def read_account(client: BatchManagementClient, info: dict[str, Any]) -> dict[str, str]:
    seen = Seen()
    await client.batch_account.get(info["resource_group"], info["account_name"], raw_response_hook=seen)
    return seen.last


async def throttled(call: Any) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as caught:
        await call
    assert caught.value.status_code == 429, caught.value
    return caught.value


def headers_of(error: HttpResponseError) -> dict[str, str]:
    response: Any = error.response
    assert response is not None
    return {k.lower(): v for k, v in response.headers.items()}


def stats(admin: AdminClient, subscription: str, kind: str = "reads") -> dict[str, int]:
    return dict(admin.arm_throttle()["subscriptions"][subscription][kind])


async def test_the_documented_limits_and_headers_by_default(
    info: dict[str, Any], admin: AdminClient, mgmt: BatchManagementClient
) -> None:
    state = admin.arm_throttle()
    assert state["enabled"] is True and state["limits"] == DOCUMENTED and state["subscriptions"] == {}
    rg, account = info["resource_group"], info["account_name"]
    first, second = await read_account(mgmt, info), await read_account(mgmt, info)
    assert (first[READS], first[GLOBAL_READS]) == ("249", "3749")  # 250 and 15 x 250, one taken
    assert (second[READS], second[GLOBAL_READS]) == ("248", "3748")
    assert WRITES not in first and DELETES not in first
    seen = Seen()
    await mgmt.pool.create(rg, account, "counted", small_pool(nodes=0), raw_response_hook=seen)
    assert (seen.last[WRITES], seen.last[GLOBAL_WRITES]) == ("199", "2999") and READS not in seen.last
    await mgmt.batch_account.get_keys(rg, account, raw_response_hook=seen)  # POST: a write
    assert seen.last[WRITES] == "198"
    deleted = Seen()
    poller = await mgmt.pool.begin_delete(rg, account, "counted", raw_response_hook=deleted)
    admin.advance_clock(3600)
    await poller.result()
    assert (deleted.responses[0][DELETES], deleted.responses[0][GLOBAL_DELETES]) == ("199", "2999")
    assert all(READS in r for r in deleted.responses[1:])  # the operation polls are reads
    sub = info["subscription_id"]
    assert stats(admin, sub, "writes") == {"allowed": 2, "throttled": 0, "min_remaining": 198}
    assert stats(admin, sub, "deletes") == {"allowed": 1, "throttled": 0, "min_remaining": 199}


async def test_a_burst_beyond_the_bucket_gets_429_with_retry_after(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    admin.set_arm_throttle(reads=(3, 0.01))  # a token per 100 emulator s: 1/6 s of wall time at x600
    assert [(await read_account(strict, info))[READS] for _ in range(3)] == ["2", "1", "0"]
    error = await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    assert error.error is not None and error.error.code == "SubscriptionRequestsThrottled"
    sub = info["subscription_id"]
    assert f"Number of 'read' requests for subscription '{sub}'" in str(error.error.message)
    assert "Please try again after '1' seconds" in str(error.error.message)
    headers = headers_of(error)
    assert headers["retry-after"] == "1" and headers[READS] == "0" and headers["x-ms-request-id"]
    counts = admin.counters()
    assert counts["GET mgmt.account"] == 4 and counts["429 GET mgmt.account"] == 1
    assert stats(admin, sub) == {"allowed": 3, "throttled": 1, "min_remaining": 0}
    # Retry-After is wall seconds, rounded up: 1,000 emulator s for a token at x600 is 1.7 s.
    admin.set_arm_throttle(reads=(1, 0.001))
    await read_account(strict, info)
    error = await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    assert headers_of(error)["retry-after"] == "2"


async def test_the_sdk_retry_policy_waits_out_retry_after(
    info: dict[str, Any], admin: AdminClient, mgmt: BatchManagementClient
) -> None:
    """azure-core retries a 429 after its Retry-After (whole seconds here); the bucket has a token
    again by then because the emulator's clock moved on meanwhile."""
    admin.set_arm_throttle(reads=(2, 0.01))
    for _ in range(2):
        await read_account(mgmt, info)

    async def refill_once_throttled() -> None:
        deadline = time.monotonic() + 10
        while "429 GET mgmt.account" not in await asyncio.to_thread(admin.counters):
            assert time.monotonic() < deadline, "the client was never throttled"
            await asyncio.sleep(0.02)
        await asyncio.to_thread(admin.advance_clock, 100.0)  # one token's worth

    started = time.monotonic()
    headers, _ = await asyncio.gather(read_account(mgmt, info), refill_once_throttled())
    assert time.monotonic() - started >= 0.9  # it waited the Retry-After of 1 s
    assert headers[READS] == "0"
    assert admin.counters()["429 GET mgmt.account"] == 1
    assert stats(admin, info["subscription_id"]) == {"allowed": 3, "throttled": 1, "min_remaining": 0}


async def test_a_throttled_request_has_no_effect(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    admin.set_arm_throttle(writes=(1, 0.001))
    await strict.pool.create(rg, account, "first", small_pool(nodes=0))
    await throttled(strict.pool.create(rg, account, "second", small_pool(nodes=0)))
    with pytest.raises(ResourceNotFoundError):
        await strict.pool.get(rg, account, "second")
    await throttled(
        strict.pool.update(rg, account, "first", {"properties": {"metadata": [{"name": "a", "value": "b"}]}})
    )
    assert not (await strict.pool.get(rg, account, "first")).metadata
    assert stats(admin, info["subscription_id"], "writes") == {
        "allowed": 1,
        "throttled": 2,
        "min_remaining": 0,
    }


async def test_reads_writes_and_deletes_have_their_own_buckets(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    rg, account = info["resource_group"], info["account_name"]
    admin.set_arm_throttle(reads=(1, 0.001), writes=(1, 0.001), deletes=(1, 0.001))
    await read_account(strict, info)
    await throttled(strict.batch_account.get(rg, account))
    await strict.pool.create(rg, account, "kinds", small_pool(nodes=0))  # the write bucket is full
    await throttled(strict.pool.create(rg, account, "kinds2", small_pool(nodes=0)))
    seen = Seen()
    await strict.pool.begin_delete(rg, account, "kinds", raw_response_hook=seen, polling=False)
    assert seen.last[DELETES] == "0"
    await throttled(strict.pool.begin_delete(rg, account, "kinds", polling=False))
    counts = admin.arm_throttle()["subscriptions"][info["subscription_id"]]
    assert {kind: (c["allowed"], c["throttled"]) for kind, c in counts.items()} == {
        "reads": (1, 1),
        "writes": (1, 1),
        "deletes": (1, 1),
    }


async def test_refills_follow_the_sped_up_clock(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    admin.set_arm_throttle(reads=(10, 2.0))
    assert [(await read_account(strict, info))[READS] for _ in range(4)] == ["9", "8", "7", "6"]
    admin.advance_clock(1.0)  # two tokens back
    assert (await read_account(strict, info))[READS] == "7"
    admin.advance_clock(0.2)  # 0.4 of a token: not a whole one yet
    assert (await read_account(strict, info))[READS] == "6"
    admin.advance_clock(0.3)  # the fraction is kept: 0.4 + 0.6 is a whole token
    assert (await read_account(strict, info))[READS] == "6"
    admin.advance_clock(1000.0)  # never more than the bucket
    assert (await read_account(strict, info))[READS] == "9"
    # In wall time the bucket refills time-scale times faster: 0.01 token per emulator second is
    # 6 tokens per wall second at x600 (0.01 at x1).
    admin.set_arm_throttle(reads=(5, 0.01))
    for _ in range(5):
        await read_account(strict, info)
    resumed = admin.resume_clock()
    await asyncio.sleep(0.5)
    remaining = int((await read_account(strict, info))[READS])
    elapsed = admin.now() - resumed
    assert elapsed >= 0.5 * info["time_scale"]
    assert (
        math.floor(0.5 * info["time_scale"] * 0.01) - 1 <= remaining <= min(math.floor(elapsed * 0.01) - 1, 4)
    )


async def test_subscriptions_do_not_share_a_bucket(
    info: dict[str, Any],
    admin: AdminClient,
    credential: ClientSecretCredential,
    strict: BatchManagementClient,
) -> None:
    admin.create_account("otheracct", subscription_id=OTHER_SUBSCRIPTION, resource_group="other-rg")
    admin.set_arm_throttle(reads=(2, 0.001))
    for _ in range(2):
        await read_account(strict, info)
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    async with management_client(
        {**info, "subscription_id": OTHER_SUBSCRIPTION}, credential, retry_total=0
    ) as other:
        seen = Seen()
        account = await other.batch_account.get("other-rg", "otheracct", raw_response_hook=seen)
    assert account.name == "otheracct"
    assert (seen.last[READS], seen.last[GLOBAL_READS]) == ("1", "29")
    subscriptions = admin.arm_throttle()["subscriptions"]
    assert subscriptions[info["subscription_id"]]["reads"] == {
        "allowed": 2,
        "throttled": 1,
        "min_remaining": 0,
    }
    assert subscriptions[OTHER_SUBSCRIPTION]["reads"] == {"allowed": 1, "throttled": 0, "min_remaining": 1}


async def test_each_principal_has_a_bucket_inside_the_subscriptions_global_one(
    info: dict[str, Any], admin: AdminClient
) -> None:
    """Per subscription, principal and kind, plus a global bucket 15 times as large for all
    principals together: the 16th principal is refused although its own bucket is full."""
    admin.set_arm_throttle(reads=(1, 0.001))
    rg, account = info["resource_group"], info["account_name"]
    globals_left = []
    for index in range(16):
        token = admin.issue_token(audience=info["management_audience"], client_id=f"app-{index}")
        async with management_client(info, StaticToken(token), retry_total=0) as client:
            if index < 15:
                globals_left.append((await read_account(client, info))[GLOBAL_READS])
                if index == 0:
                    error = await throttled(client.batch_account.get(rg, account))
                    oid = uuid.uuid5(uuid.NAMESPACE_URL, "app-0")
                    assert error.error is not None and f"actor '{oid}'" in str(error.error.message)
            else:
                error = await throttled(client.batch_account.get(rg, account))
                assert error.error is not None and "all principals together" in str(error.error.message)
    assert globals_left == [str(n) for n in range(14, -1, -1)]
    assert stats(admin, info["subscription_id"]) == {"allowed": 15, "throttled": 2, "min_remaining": 0}


async def test_turned_off_there_are_no_429s_and_no_headers(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    state = admin.set_arm_throttle(enabled=False, reads=(1, 0.001))
    assert state["enabled"] is False and state["limits"]["reads"] == {"bucket": 1, "refill_per_second": 0.001}
    for _ in range(5):
        headers = await read_account(strict, info)
        assert READS not in headers and GLOBAL_READS not in headers
    assert admin.arm_throttle()["subscriptions"] == {}
    admin.set_arm_throttle()  # on again, the limits kept
    assert (await read_account(strict, info))[READS] == "0"
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))


async def test_only_requests_that_name_a_subscription_are_throttled(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient, batch: BatchClient
) -> None:
    admin.set_arm_throttle(reads=(1, 0.001))
    await read_account(strict, info)
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    for _ in range(3):  # tenant-level ARM reads: /subscriptions names none
        answer = await strict.send_request(
            HttpRequest("GET", f"{info['management_endpoint']}subscriptions?api-version=2022-12-01")
        )
        assert answer.status_code == 200 and READS not in answer.headers
    for _ in range(3):  # the Batch data plane is not ARM
        assert [p async for p in batch.list_pools()] == []
    admin.inject_fault("mgmt.account", "GET", 429, retry_after=1, count=1)  # a fault comes first
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    assert admin.counters()["429 GET mgmt.account"] == 2  # both 429s counted, whoever answered
    assert list(admin.arm_throttle()["subscriptions"]) == [info["subscription_id"]]
    assert stats(admin, info["subscription_id"]) == {"allowed": 1, "throttled": 1, "min_remaining": 0}


async def test_statistics_reset_with_the_counters_and_everything_with_reset(
    info: dict[str, Any], admin: AdminClient, strict: BatchManagementClient
) -> None:
    sub = info["subscription_id"]
    admin.set_arm_throttle(reads=(2, 0.001))
    for _ in range(2):
        await read_account(strict, info)
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))
    assert stats(admin, sub) == {"allowed": 2, "throttled": 1, "min_remaining": 0}
    assert stats(admin, sub, "writes") == {"allowed": 0, "throttled": 0, "min_remaining": 200}
    admin.reset_counters()
    assert admin.arm_throttle()["subscriptions"] == {} and admin.counters() == {}
    await throttled(strict.batch_account.get(info["resource_group"], info["account_name"]))  # buckets kept
    assert stats(admin, sub) == {"allowed": 0, "throttled": 1, "min_remaining": 0}
    admin.reset()  # the start-up limits, full buckets, no statistics
    assert admin.arm_throttle() == {"enabled": True, "limits": DOCUMENTED, "subscriptions": {}}
    admin.pause_clock()
    assert (await read_account(strict, info))[READS] == "249"
    async with AsyncAdminClient(info) as async_admin:
        state = await async_admin.set_arm_throttle(writes=(7, 0.5))
        assert state["limits"]["writes"] == {"bucket": 7, "refill_per_second": 0.5}
        assert (await async_admin.arm_throttle())["subscriptions"][sub]["reads"]["allowed"] == 1
    for bad in ({"reads": (0, 1.0)}, {"writes": (5, 0.0)}, {"deletes": (5, -1.0)}):
        with pytest.raises(AdminError, match=r"bucket|refill"):
            admin.set_arm_throttle(**bad)  # type: ignore[arg-type]
    with pytest.raises(AdminError, match="unknown fields"):
        admin._call("POST", "/arm-throttle", {"puts": [1, 1]})


def test_in_process_and_serve_options(tmp_path: Path) -> None:
    with EmulatorThread(time_scale=600, arm_throttle="reads=3/1,deletes=4/0.5") as emu:
        admin = AdminClient(emu.info)
        expected = {**DOCUMENTED, "reads": {"bucket": 3, "refill_per_second": 1.0}}
        expected["deletes"] = {"bucket": 4, "refill_per_second": 0.5}
        assert admin.arm_throttle()["limits"] == expected
        admin.set_arm_throttle(enabled=False)
        admin.reset()  # back to the settings it was started with
        assert admin.arm_throttle()["enabled"] is True and admin.arm_throttle()["limits"] == expected
    bogus = subprocess.run(
        [
            sys.executable,
            "-m",
            "azbatch_emulator",
            "serve",
            "--state-dir",
            str(tmp_path / "bogus"),
            "--arm-throttle",
            "reads=0/1",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert bogus.returncode == 2 and "--arm-throttle" in bogus.stderr and not (tmp_path / "bogus").exists()
    (tmp_path / "off").mkdir()
    with EmulatorProcess(
        state_dir=tmp_path / "off", extra_args=["--quiet", "--arm-throttle", "off"]
    ) as process:
        assert AdminClient(process.info).arm_throttle()["enabled"] is False
