"""The emulator: one HTTPS server on loopback for Entra, ARM (Microsoft.Batch) and the Batch data plane.

Usage from async code::

    async with start_emulator(time_scale=60) as emulator:
        info = emulator.info   # the same dict `azbatch-emulator serve` prints

`await start_emulator(...)` also works and returns a started emulator (call `await stop()`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import tempfile
import time
import warnings
from collections.abc import Awaitable, Callable, Generator
from pathlib import Path
from typing import Any

from aiohttp import web

from azbatch_emulator import admin_api, arm_api, data_api, entra_api, mgmt_api, sharedkey
from azbatch_emulator.clock import CALENDAR_FILE, SimClock
from azbatch_emulator.errors import (
    ServiceError,
    arm_error_response,
    batch_error_response,
    oauth_error_response,
    request_id,
)
from azbatch_emulator.faults import CallCounters, FaultBook
from azbatch_emulator.identity import (
    BATCH_AUDIENCE,
    MANAGEMENT_AUDIENCE,
    MANAGEMENT_AUDIENCES,
    FederationIssuer,
    TokenIssuer,
    VerifiedToken,
    load_or_create_key,
    object_id,
)
from azbatch_emulator.routing import CanonicalRouter, plane_of
from azbatch_emulator.rules import check_batch_api_version, check_mgmt_api_version
from azbatch_emulator.settings import DEFAULT_FEDERATED_SUBJECT, DEFAULT_LOCATION, Identity
from azbatch_emulator.store import Account, Store, atomic_write
from azbatch_emulator.throttle import (
    THROTTLED_CODE,
    ArmThrottle,
    Decision,
    ThrottleSettings,
    parse_settings,
    subscription_of,
)
from azbatch_emulator.timings import Timings
from azbatch_emulator.tls import load_or_create_ca, server_context, write_bundle

log = logging.getLogger("azbatch_emulator")
access_log = logging.getLogger("azbatch_emulator.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
EMULATOR_KEY: web.AppKey[Emulator] = web.AppKey("emulator")


class Emulator:
    """A running (or ready to run) emulator instance; see `start_emulator`."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        time_scale: float = 60.0,
        state_dir: str | Path | None = None,
        timings: Timings | None = None,
        reset: bool = False,
        seed: int | None = None,
        arm_throttle: ThrottleSettings | str | None = None,
    ) -> None:
        self.host = host
        self.requested_port = port
        self.timings = timings or Timings()
        self.clock = SimClock(time_scale)
        self._owns_state_dir = state_dir is None
        self.state_dir = Path(state_dir) if state_dir else Path(tempfile.mkdtemp(prefix="azbatch-emulator-"))
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._reset = reset
        self.faults = FaultBook(seed)
        self.counters = CallCounters()
        # ARM's request throttle (docs/emulator.md, "ARM request throttling"): on by default with the
        # documented limits; `reset()` brings back the settings it was started with.
        self.arm_throttle_settings = _throttle_settings(arm_throttle)
        self.throttle = ArmThrottle(self.arm_throttle_settings)
        self.identity = Identity.load_or_create(self.state_dir)
        self.store = Store(clock=self.clock, timings=self.timings, state_dir=self.state_dir)
        self.port = 0
        self.info: dict[str, Any] = {}
        self._runner: web.AppRunner | None = None
        self._saver: asyncio.Task[None] | None = None

    # --- lifecycle ----------------------------------------------------------------------
    async def start(self) -> Emulator:
        sock = socket.socket(socket.AF_INET6 if ":" in self.host else socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.requested_port))
        self.port = sock.getsockname()[1]
        base = f"https://{self.host if ':' not in self.host else f'[{self.host}]'}:{self.port}"
        self.base_url = base
        self.issuer = TokenIssuer(
            load_or_create_key(self.state_dir / "signing-key.pem"),
            tenant_id=self.identity.tenant_id,
            issuer=f"{base}/{self.identity.tenant_id}/v2.0",
        )
        self.federation = FederationIssuer(
            load_or_create_key(self.state_dir / "federation-key.pem"), issuer=f"{base}/federation"
        )
        ca = load_or_create_ca(self.state_dir)
        if self._reset:
            self.store.wipe()
        saved_now = self.store.load()
        # The calendar lives in the state dir, so a restart renders every earlier instant as before.
        calendar = self.state_dir / CALENDAR_FILE
        self.clock = SimClock(self.clock.time_scale, start=saved_now, calendar_file=calendar)
        self.store.clock = self.clock
        self.ensure_default_account()
        app = self.build_app()
        self._runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.SockSite(self._runner, sock, ssl_context=server_context(ca, self.host))
        await site.start()
        self.info = self._ready_info(base)
        ready = self.state_dir / "ready.json"
        ready.touch(mode=0o600)
        atomic_write(ready, json.dumps(self.info, indent=2))
        os.chmod(ready, 0o600)
        self._saver = asyncio.create_task(self._save_clock_periodically())
        log.info("azbatch-emulator ready on %s (state dir %s)", base, self.state_dir)
        return self

    async def stop(self) -> None:
        if self._saver:
            self._saver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._saver
            self._saver = None
        if self._runner:
            await self._runner.cleanup()
            self._runner = None
            self.store.save_clock()
            with contextlib.suppress(FileNotFoundError):
                (self.state_dir / "ready.json").unlink()
        if self._owns_state_dir:
            shutil.rmtree(self.state_dir, ignore_errors=True)

    async def __aenter__(self) -> Emulator:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def __await__(self) -> Generator[Any, None, Emulator]:
        return self.start().__await__()

    async def _save_clock_periodically(self) -> None:
        while True:
            await asyncio.sleep(1.0)
            self.store.save_clock()

    # --- state --------------------------------------------------------------------------
    def ensure_default_account(self) -> None:
        ident = self.identity
        if self.store.account_by_name(ident.account_name) is None:
            self.store.add_account(
                Account(
                    ident.subscription_id, ident.resource_group, ident.account_name, location=DEFAULT_LOCATION
                )
            )

    def reset(self) -> None:
        self.clock.resume()
        self.store.clear()
        self.faults.clear()
        self.counters.reset()
        self.throttle.configure(self.arm_throttle_settings)
        self.throttle.reset_stats()
        self.ensure_default_account()

    def account_endpoint(self, account_name: str) -> str:
        """What ARM reports as `accountEndpoint` (no scheme, like Azure): host:port/batch/<account>."""
        return f"{self.base_url.removeprefix('https://')}/batch/{account_name}"

    def _ready_info(self, base: str) -> dict[str, Any]:
        ident = self.identity
        ca_cert = self.state_dir / "ca.pem"
        bundle = write_bundle(ca_cert, self.state_dir / "ca-bundle.pem")
        token_file = self.state_dir / "federated-token"
        token_file.touch(mode=0o600)
        atomic_write(token_file, self.federation.mint(subject=DEFAULT_FEDERATED_SUBJECT))
        batch_endpoint = f"https://{self.account_endpoint(ident.account_name)}"
        return {
            "endpoints": {
                "management": f"{base}/",
                "authority": base,
                "batch": batch_endpoint,
                "admin": f"{base}/_admin",
            },
            "host": self.host,
            "port": self.port,
            "pid": os.getpid(),
            "management_endpoint": f"{base}/",
            "authority_host": base,
            "authority": f"{base}/{ident.tenant_id}",
            "tenant_id": ident.tenant_id,
            "client_id": ident.client_id,
            "client_secret": ident.client_secret,
            "subscription_id": ident.subscription_id,
            "resource_group": ident.resource_group,
            "account_name": ident.account_name,
            "account_id": f"/subscriptions/{ident.subscription_id}/resourceGroups/{ident.resource_group}"
            f"/providers/Microsoft.Batch/batchAccounts/{ident.account_name}",
            "account_endpoint": self.account_endpoint(ident.account_name),
            "batch_endpoint": batch_endpoint,
            "management_audience": MANAGEMENT_AUDIENCE,
            "management_scope": f"{MANAGEMENT_AUDIENCE}.default",
            "batch_audience": BATCH_AUDIENCE,
            "batch_scope": f"{BATCH_AUDIENCE}/.default",
            "ca_cert": str(ca_cert),
            "ca_bundle": str(bundle),
            "federated_token_file": str(token_file),
            "time_scale": self.clock.time_scale,
            "state_dir": str(self.state_dir),
        }

    # --- HTTP ---------------------------------------------------------------------------
    def build_app(self) -> web.Application:
        with warnings.catch_warnings():
            # aiohttp 3 deprecates passing a router; it is the one place that sees the path before
            # matching, which ARM-style routing needs (aiohttp is pinned below 4).
            warnings.simplefilter("ignore", DeprecationWarning)
            app = web.Application(
                router=CanonicalRouter(), middlewares=[self._middleware], client_max_size=4 * 1024 * 1024
            )
        app[EMULATOR_KEY] = self
        admin_api.register(app.router, self)
        arm_api.register(app.router, self)
        mgmt_api.register(app.router, self)
        data_api.register(app.router, self)
        entra_api.register(app.router, self)
        return app

    @web.middleware
    async def _middleware(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        started = time.perf_counter()
        resource = request.match_info.route.resource
        route = (resource.name if resource else None) or _unrouted(request.path)
        plane = route.partition(".")[0]
        rid = request_id()
        charged: Decision | None = None
        try:
            if plane != "admin":
                self.counters.record(route, request.method)
                await self._inject_fault(request, route)
            if plane in ("mgmt", "arm"):
                charged = self._throttle(request, self._authenticate(request, MANAGEMENT_AUDIENCES))
                if plane == "arm":  # Microsoft.Resources: its own api-versions, the same tokens
                    check_resources_api_version(request.query.get("api-version"))
                elif route != "mgmt.unknown":
                    check_mgmt_api_version(request.query.get("api-version"))
            elif plane == "batch":
                if sharedkey.is_shared_key(request):
                    sharedkey.verify(request, self)
                else:
                    self._authenticate(request, BATCH_AUDIENCE)
                check_batch_api_version(request.query.get("api-version"))
            response = await handler(request)
        except web.HTTPNotFound:
            response = self._render(plane, _not_found(plane, request), rid, request)
        except web.HTTPMethodNotAllowed:
            refusal = ServiceError(
                405, "MethodNotAllowed", f"{request.method} is not supported on {request.path}."
            )
            response = self._render(plane, refusal, rid, request)
        except ServiceError as error:
            response = self._render(plane, error, rid, request)
        except DroppedConnectionError:
            response = web.Response(status=599, reason="Connection dropped by an injected fault")
        except Exception:  # an emulator bug: answer like the service would, and say where
            log.exception("unhandled error in %s %s", request.method, request.path)
            failure = ServiceError(500, "InternalServerError", "The emulator failed; see its log.")
            response = self._render(plane, failure, rid, request)
        self._stamp(plane, response, rid, request, charged)
        if response.status == 429 and plane != "admin":
            self.counters.record_status(route, request.method, 429)
        if access_log.isEnabledFor(logging.INFO):
            access_log.info(
                "%s %s %s %.1fms",
                request.method,
                request.path,
                "dropped" if response.status == 599 else response.status,
                (time.perf_counter() - started) * 1000,
            )
        return response

    @staticmethod
    def _stamp(
        plane: str, response: web.StreamResponse, rid: str, request: web.Request, charged: Decision | None
    ) -> None:
        """The headers every answer of the plane carries: request ids, ARM's remaining requests."""
        if plane == "batch":
            response.headers.setdefault("request-id", rid)
            client_rid = request.headers.get("client-request-id")
            if client_rid:
                response.headers["client-request-id"] = client_rid
        elif plane in ("mgmt", "arm"):
            response.headers.setdefault("x-ms-request-id", rid)
            if charged is not None:  # a request that took its token from ARM's buckets
                response.headers.update(charged.headers())

    async def _inject_fault(self, request: web.Request, route: str) -> None:
        fault = self.faults.match(
            route, request.method, request.match_info.get("pool"), request.match_info.get("node")
        )
        if fault is None:
            return
        if fault.latency:
            await asyncio.sleep(fault.latency)
        if fault.drop_connection:
            if request.transport is not None:
                request.transport.abort()
            raise DroppedConnectionError
        if fault.status:
            raise fault.error()

    def _throttle(self, request: web.Request, token: VerifiedToken) -> Decision | None:
        """Take the request's token from ARM's buckets (requests that name a subscription); a
        request the buckets refuse is answered 429 here and reaches nothing else."""
        subscription = subscription_of(request.path)
        if subscription is None:
            return None
        decision = self.throttle.check(subscription, token.client_id, request.method, self.clock.now())
        if decision is None or decision.allowed:
            return decision
        retry_after = decision.retry_after(self.clock.time_scale)
        raise ServiceError(
            429,
            THROTTLED_CODE,
            decision.message(object_id(token.client_id), retry_after),
            headers={"Retry-After": str(retry_after), **decision.headers()},
        )

    def _authenticate(self, request: web.Request, audience: str | tuple[str, ...]) -> VerifiedToken:
        header = request.headers.get("Authorization", "")
        scheme, _, token = header.partition(" ")
        if not header:
            raise self._unauthorized(
                ServiceError(
                    401,
                    "AuthenticationFailed",
                    "Authentication failed. The 'Authorization' header is missing.",
                )
            )
        if scheme.lower() != "bearer" or not token:
            raise self._unauthorized(
                ServiceError(
                    401, "InvalidAuthenticationToken", "The 'Authorization' header must be 'Bearer <token>'."
                )
            )
        try:
            return self.issuer.verify(token.strip(), audience=audience)
        except ServiceError as error:
            raise self._unauthorized(error) from None

    def _unauthorized(self, error: ServiceError) -> ServiceError:
        error.headers["WWW-Authenticate"] = (
            f'Bearer authorization_uri="{self.base_url}/{self.identity.tenant_id}", '
            f'error="invalid_token", error_description="{error.code}"'
        )
        return error

    def _render(self, plane: str, error: ServiceError, rid: str, request: web.Request) -> web.Response:
        if plane == "batch":
            if error.status == 401:
                error = ServiceError(
                    401,
                    "AuthenticationFailed",
                    "Server failed to authenticate the request. Make sure the value of Authorization "
                    "header is formed correctly including the signature.",
                    details=[("AuthenticationErrorDetail", f"{error.code}: {error.message}")],
                    headers=error.headers,
                )
            account = request.match_info.get("account", "")
            return batch_error_response(error, rid, f"https://{self.account_endpoint(account)}")
        if plane == "entra":
            return oauth_error_response(error, rid)
        return arm_error_response(error, rid)


class DroppedConnectionError(Exception):
    """The fault injector closed the connection; nothing is sent."""


def _unrouted(path: str) -> str:
    return f"{plane_of(path)}.unknown"


def _throttle_settings(value: ThrottleSettings | str | None) -> ThrottleSettings:
    if value is None:
        return ThrottleSettings()
    if isinstance(value, str):
        return parse_settings(value)
    return value


def check_resources_api_version(value: str | None) -> None:
    if not value:
        raise ServiceError(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        )


def _not_found(plane: str, request: web.Request) -> ServiceError:
    if plane in ("mgmt", "arm"):
        return ServiceError(
            404,
            "InvalidResourceType",
            f"The resource type could not be found for '{request.path}' (the emulator serves Microsoft.Batch "
            "batchAccounts and pools, and the Microsoft.Resources reads listed in docs/emulator.md).",
        )
    if plane == "batch":
        return ServiceError(
            404, "ResourceNotFound", f"The specified resource does not exist: {request.path}."
        )
    return ServiceError(404, "not_found", f"Nothing is served at {request.path}.")


def start_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    time_scale: float = 60.0,
    state_dir: str | Path | None = None,
    timings: Timings | None = None,
    reset: bool = False,
    seed: int | None = None,
    arm_throttle: ThrottleSettings | str | None = None,
) -> Emulator:
    """An emulator to use as `async with start_emulator() as emu:` or `emu = await start_emulator()`.

    Without `state_dir` it runs from a temporary directory removed on stop. `arm_throttle`: ARM's
    request throttle, the documented limits by default; `"off"`, `"reads=50/5,writes=20/1"` or a
    `ThrottleSettings` (docs/emulator.md, "ARM request throttling").
    """
    return Emulator(
        host=host,
        port=port,
        time_scale=time_scale,
        state_dir=state_dir,
        timings=timings,
        reset=reset,
        seed=seed,
        arm_throttle=arm_throttle,
    )
