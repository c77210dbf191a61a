"""``KubeStandIn``: kmock's Kubernetes emulator plus what kopf and kubectl need from an API server.

The write rules live in ``semantics`` (pure); this module stores objects in kmock's
``objects`` array (so tests can assert on ``kube.objects[...]`` and its history), keeps a
resourceVersion-ordered event log per resource for watches, and answers over real HTTP::

    async with KubeStandIn() as kube:
        kube.register_crd(crd_document)
        kube.write_kubeconfig(path)   # then kopf / kubectl / the kubernetes client use it
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hmac
import json
import pathlib
import re
import traceback
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from types import TracebackType
from typing import Any, Self

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import rendering

from azbatch_kubemock import (
    cel_rules,
    errors,
    openapi,
    paging,
    patching,
    schema,
    selectors,
    semantics,
    tables,
)
from azbatch_kubemock.eventlog import UPPER_BOUND, EventLog
from azbatch_kubemock.kubeconfig import write_kubeconfig
from azbatch_kubemock.resources import CrdError, ResourceSpec, specs_from_crd
from azbatch_kubemock.routing import parse_request

ALL_VERBS = {"create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"}
CRD_RESOURCE = kmock.resource("apiextensions.k8s.io", "v1", "customresourcedefinitions")
NAMESPACES = kmock.resource("", "v1", "namespaces")
PRECREATED_NAMESPACES = ("default", "kube-system")
KOPF_PEERINGS = {
    "clusterkopfpeerings": ("ClusterKopfPeering", False),
    "kopfpeerings": ("KopfPeering", True),
}

# What ``/version`` reports: inside the chart's supported range (Chart.yaml ``kubeVersion``) and
# within kubectl's one-minor skew of the kubectl the dev extra installs (kmock itself says 1.26).
SERVER_VERSION = {"major": "1", "minor": "36", "gitVersion": "v1.36.2"}

GVR = tuple[str, str, str]
Predicate = Callable[[Mapping[str, Any]], bool]


def _gvr(resource: kmock.resource) -> GVR:
    return (resource.group or "", resource.version or "", resource.plural or "")


@attrs.define(kw_only=True)
class KubeStandIn(kmock.KubernetesEmulator):
    """A Kubernetes API stand-in on loopback HTTP; ``async with`` starts and stops the server."""

    host: str = "127.0.0.1"
    port: int = 0
    token: str | None = None  # when set, every request must carry ``Authorization: Bearer <token>``
    # Bounded memory for long runs (the demo): watch events kept per resource, at most (the room
    # for them grows and shrinks as kube-apiserver's watch cache does, see ``eventlog``; a watch
    # from before the oldest kept gets 410 Expired), object versions kept in
    # ``objects[...].history``, and requests kept in ``requests``.
    history_limit: int = UPPER_BOUND
    versions_kept: int = 20
    # Reactions on plain filters are judged on the request itself (`_sees`); one added on a slice
    # or union is judged by replaying the kept requests, at a cost in proportion to this number.
    requests_kept: int = 1000
    # How long a list's continue token can be used: etcd keeps every revision between the API
    # server's compactions, made every five minutes (`--etcd-compaction-interval`), so a token is
    # good for five to ten; the stand-in keeps each paged list's snapshot for the shorter.
    continue_valid_for: float = 300.0

    _specs: dict[GVR, ResourceSpec] = attrs.field(factory=dict, init=False)
    _log: EventLog = attrs.field(init=False)
    _pages: paging.Snapshots = attrs.field(init=False)
    _resource_version: int = attrs.field(default=1, init=False)
    _changed: asyncio.Condition | None = attrs.field(default=None, init=False)
    _closing: bool = attrs.field(default=False, init=False)
    _results: dict[rendering.Request, dict[str, Any]] = attrs.field(factory=dict, init=False)
    _warnings: dict[rendering.Request, list[str]] = attrs.field(factory=dict, init=False)
    _server: kmock.Server | None = attrs.field(default=None, init=False)
    _in_flight: set[int] = attrs.field(factory=set, init=False)  # id() of requests being answered

    def __attrs_post_init__(self) -> None:
        super().__attrs_post_init__()
        self._log = EventLog(limit=self.history_limit)
        self._pages = paging.Snapshots(valid_for=lambda: self.continue_valid_for)
        self.fallback[kmock.method.PUT] << self._serve_update
        self.fallback["get", re.compile(r"/openapi/v3(/.*)?")] << self._serve_openapi
        with warnings.catch_warnings():  # kmock 0.8 reads its bundle with a deprecated importlib call
            warnings.simplefilter("ignore", DeprecationWarning)
            self.resources.load_bundled()
        for plural, (kind, namespaced) in KOPF_PEERINGS.items():
            self.resources[kmock.resource("kopf.dev", "v1", plural)] = kmock.ResourceInfo(
                kind=kind, singular=kind.lower(), namespaced=namespaced, verbs=ALL_VERBS
            )
        for name in PRECREATED_NAMESPACES:
            self._store_new(NAMESPACES, None, {"metadata": {"name": name}})

    # -- declaring resources ------------------------------------------------------------------

    def register_crd(self, crd: Mapping[str, Any]) -> list[ResourceSpec]:
        """Serve the resource a CRD document declares (every served version); returns the specs."""
        specs = specs_from_crd(crd)
        for spec in specs:
            self._specs[(spec.group, spec.version, spec.plural)] = spec
            self.resources[kmock.resource(spec.group, spec.version, spec.plural)] = kmock.ResourceInfo(
                kind=spec.kind,
                singular=spec.singular,
                namespaced=spec.namespaced,
                verbs=ALL_VERBS,
                shortnames=set(spec.short_names),
                categories=set(spec.categories),
                subresources={"status"} if spec.status_subresource else set(),
            )
        name = f"{specs[0].plural}.{specs[0].group}"
        if self.get_object(CRD_RESOURCE, None, name) is None:
            self._store_new(CRD_RESOURCE, None, dict(crd, metadata={**crd.get("metadata", {}), "name": name}))
        return specs

    def register_crd_file(self, path: str | pathlib.Path) -> list[ResourceSpec]:
        """Register every CRD in a YAML file (one or more documents)."""
        specs: list[ResourceSpec] = []
        try:
            with open(path, encoding="utf-8") as stream:
                documents = [document for document in yaml.safe_load_all(stream) if document]
            for document in documents:
                specs.extend(self.register_crd(document))
        except (yaml.YAMLError, CrdError) as exc:
            raise CrdError(f"{path}: {exc}") from exc
        return specs

    def spec_for(self, resource: kmock.resource) -> ResourceSpec | None:
        """How a declared resource is served (None when it is not declared)."""
        key = _gvr(resource)
        if key in self._specs:
            return self._specs[key]
        if resource not in self.resources:
            return None
        info = self.resources[resource]
        group, version, plural = key
        return ResourceSpec(
            group=group,
            version=version,
            plural=plural,
            kind=info.kind or plural.capitalize(),
            namespaced=bool(info.namespaced),
            singular=info.singular or "",
            short_names=tuple(info.shortnames),
            status_subresource="status" in info.subresources,
        )

    # -- running ------------------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        if self._server is None:
            self._closing = False
            self._changed = asyncio.Condition(self._lock)
            self._server = kmock.Server(self, host=self.host, port=self.port or None, user_agent="")
            await self._server.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback_: TracebackType | None,
    ) -> None:
        if self._server is not None and self._entered == 1:
            await self._wake_watchers(closing=True)
            await self._server.__aexit__(exc_type, exc_value, traceback_)
            self._server = None
        await super().__aexit__(exc_type, exc_value, traceback_)

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the running server."""
        if self._server is None:
            raise RuntimeError("the stand-in is not running; use `async with KubeStandIn() as kube:`")
        return str(self._server.url).rstrip("/")

    def write_kubeconfig(self, path: str | pathlib.Path, *, namespace: str = "default") -> pathlib.Path:
        """A kubeconfig for kubectl, kopf and the kubernetes client pointing at this stand-in."""
        return write_kubeconfig(path, server=self.base_url, token=self.token, namespace=namespace)

    # -- HTTP entry -----------------------------------------------------------------------------

    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        await raw_request.read()
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            request = await parse_request(raw_request, request_id=len(self._requests))
            self._requests.append(request)
            self._in_flight.add(id(request))
            try:
                return await self._handle(request)
            except rendering.StreamingError as exc:
                raw_response = exc.args[0]
                raise exc.__cause__ or exc from None
            finally:
                self._in_flight.discard(id(request))
                self._forget_old_requests()
        except Exception as exc:
            if not isinstance(exc, kmock.KubernetesError) and self._errors:
                self._errors[-1].append(exc)  # a defect of the stand-in: visible in kube.errors
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(exc)
            await self._stream_error(exc, raw_response)
            await raw_response.write_eof()
            return raw_response

    def _forget_old_requests(self) -> None:
        """Down to half of `requests_kept`, oldest first, never a request still being answered: kmock
        finds a request's reaction among the kept ones, so dropping it mid-flight loses its answer."""
        excess = len(self._requests) - self.requests_kept
        if excess <= 0:
            return
        dropping = excess + self.requests_kept // 2
        self._requests[:] = [
            request
            for index, request in enumerate(self._requests)
            if index >= dropping or id(request) in self._in_flight
        ]

    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        if isinstance(exc, kmock.KubernetesError):
            return aiohttp.web.json_response(errors.status_body(exc), status=exc.status)
        internal = errors.ApiError(
            status=500,
            reason="InternalError",
            message=f"the stand-in failed: {exc!r}",
            details={"traceback": traceback.format_exc()},
        )
        return aiohttp.web.json_response(errors.status_body(internal), status=500)

    async def _stream_error(self, exc: Exception, raw_response: aiohttp.web.StreamResponse) -> None:
        error = exc if isinstance(exc, kmock.KubernetesError) else errors.ApiError(message=repr(exc))
        event = {"type": "ERROR", "object": errors.status_body(error)}
        await raw_response.write(json.dumps(event).encode() + b"\n")

    async def _handle(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        self._check_token(request)
        spec = self._route(request)
        if spec is not None and request.action != kmock.action.WATCH:
            async with self._lock:
                result = self._write(request, spec)
            if result is not None:
                self._results[request] = result
                await self._wake_watchers()
        try:
            # Past kmock's own stateful write logic (replaced by _write) to the reactions/fallbacks.
            return await self._react(request)
        finally:
            self._results.pop(request, None)
            self._warnings.pop(request, None)

    async def _react(self, request: rendering.Request) -> aiohttp.web.StreamResponse:
        """The first reaction, highest priority first, whose view sees the request — as kmock's
        RawHandler answers, but judging plain filters on this one request: kmock replays every kept
        request through a view to learn whether it contains this one, which made each answer cost
        time in proportion to the requests kept (a thousand BatchPools starting took minutes)."""
        for reaction in sorted(self._payloads, key=_priority_order):
            if reaction._disabled.is_set() or not self._sees(reaction._source, request):
                continue
            try:
                response: aiohttp.web.StreamResponse = await reaction(request)
            except rendering.ReactionMismatchError:  # depleted or mismatched: never again, as in kmock
                reaction._disabled.set()
            except NotImplementedError:  # matched, nothing to answer with: the next one may
                pass
            else:
                return response
        raise NotImplementedError(f"the stand-in has no reaction for {request.method} {request.url}")

    def _sees(self, view: kmock.View, request: rendering.Request) -> bool:
        """Filters and priorities down to this root judged on the request alone; anything else
        (slices, unions, streams) by kmock's own replay of the kept requests."""
        node: object = view
        while node is not self:
            if type(node) is kmock.Filter:
                if not node.criteria(request):
                    return False
            elif type(node) is not kmock.Priority:
                return request in view
            node = getattr(node, "_source", self)
        return True

    def _check_token(self, request: rendering.Request) -> None:
        if self.token is None:
            return
        sent = request.headers.get("Authorization", "")
        if not hmac.compare_digest(sent.encode(), f"Bearer {self.token}".encode()):
            raise errors.unauthorized()

    def _route(self, request: rendering.Request) -> ResourceSpec | None:
        """The spec of the addressed resource, None for non-resource paths (discovery)."""
        if request.resource is None or not request.resource.plural:
            return None
        spec = self.spec_for(request.resource)
        if spec is None:
            raise errors.resource_not_found()
        if request.subresource not in (None, "status") or (
            request.subresource == "status" and not spec.status_subresource
        ):
            raise errors.resource_not_found()
        if request.namespace is not None and not spec.namespaced:
            raise errors.resource_not_found()
        return spec

    # -- the store ------------------------------------------------------------------------------

    def _key(self, resource: kmock.resource, namespace: str | None, name: str) -> tuple[Any, ...]:
        return (kmock.resource(*_gvr(resource)), namespace, name)

    def get_object(self, resource: kmock.resource, namespace: str | None, name: str) -> dict[str, Any] | None:
        key = self._key(resource, namespace, name)
        if key not in self.objects:
            return None
        obj = self.objects[key]
        return None if obj.deleted else dict(obj.raw)

    def live_objects(self, resource: kmock.resource, namespace: str | None) -> list[dict[str, Any]]:
        wanted = _gvr(resource)
        found = [
            dict(obj.raw)
            for (res, ns, _), obj in self.objects.items()
            if _gvr(res) == wanted and not obj.deleted and (namespace is None or ns == namespace)
        ]
        return sorted(found, key=lambda o: (o["metadata"].get("namespace") or "", o["metadata"]["name"]))

    def _next_version(self) -> int:
        self._resource_version += 1
        return self._resource_version

    def _record(self, resource: kmock.resource, event_type: str, body: dict[str, Any]) -> None:
        meta = body["metadata"]
        key = self._key(resource, meta.get("namespace"), meta["name"])
        if event_type == "DELETED":
            self.objects[key].delete()
        elif key in self.objects:
            history = self.objects[key].history
            history.append(body)
            if len(history) > self.versions_kept:
                del history[: -self.versions_kept]
        else:
            self.objects[key] = body
        self._log.append(_gvr(resource), int(meta["resourceVersion"]), {"type": event_type, "object": body})

    def _store_new(
        self,
        resource: kmock.resource,
        namespace: str | None,
        body: Any,
        *,
        admit: Callable[[dict[str, Any]], dict[str, Any]] = lambda obj: obj,
    ) -> dict[str, Any]:
        spec = self.spec_for(resource)
        assert spec is not None  # declared by the caller
        obj = semantics.new_object(
            body,
            spec,
            url_namespace=namespace,
            resource_version=self._resource_version + 1,
            taken=lambda name: self.get_object(resource, namespace, name) is not None,
        )
        if _gvr(resource) == _gvr(NAMESPACES):  # what the namespace strategy sets on create
            obj["spec"] = {"finalizers": ["kubernetes"]}
            obj["status"] = {"phase": "Active"}
        obj = admit(obj)
        self._next_version()
        self._record(resource, "ADDED", obj)
        return obj

    async def _wake_watchers(self, *, closing: bool = False) -> None:
        if self._changed is None:
            return
        async with self._changed:
            self._closing = self._closing or closing
            self._changed.notify_all()

    # -- writes (under the lock) ------------------------------------------------------------------

    def _write(self, request: rendering.Request, spec: ResourceSpec) -> dict[str, Any] | None:
        assert request.resource is not None
        try:
            if request.method == kmock.method.POST:
                return self._create(request, spec)
            if request.method in (kmock.method.PATCH, kmock.method.PUT):
                return self._update(request, spec)
            if request.method == kmock.method.DELETE:
                return self._delete(request, spec)
        except semantics.WriteRejectedError as exc:
            raise self._rejection(exc, spec, request.name or "") from exc
        return None

    def _rejection(self, exc: semantics.WriteRejectedError, spec: ResourceSpec, name: str) -> errors.ApiError:
        if exc.kind == "conflict":
            return errors.conflict(spec, name)
        if exc.kind == "invalid":
            return errors.invalid(spec, name, exc.field, str(exc))
        return errors.bad_request(str(exc))

    def _create(self, request: rendering.Request, spec: ResourceSpec) -> dict[str, Any]:
        assert request.resource is not None
        if request.name is not None or request.subresource is not None:
            raise errors.method_not_allowed("POST")
        if spec.namespaced:
            if request.namespace is None:
                raise errors.resource_not_found()
            namespace = self.get_object(NAMESPACES, None, request.namespace)
            if namespace is None:
                raise errors.not_found(self._namespace_spec(), request.namespace)
            if namespace["metadata"].get("deletionTimestamp"):
                why = "because it is being terminated"
                raise errors.forbidden(f"unable to create new content in namespace {request.namespace} {why}")
        data = request.data
        name = (data.get("metadata") or {}).get("name") if isinstance(data, dict) else None
        if name and self.get_object(request.resource, request.namespace, name) is not None:
            raise errors.already_exists(spec, name)
        obj = self._store_new(
            request.resource, request.namespace, data, admit=self._admission(request, spec, None)
        )
        if _gvr(request.resource) == _gvr(CRD_RESOURCE):
            self.register_crd(obj)
        return obj

    def _admission(
        self, request: rendering.Request, spec: ResourceSpec, old: dict[str, Any] | None
    ) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """The CRD schema step of a write: unknown fields reported or refused (``fieldValidation``),
        defaults, pruning, then schema and CEL validation."""
        mode = request.params.get("fieldValidation", "Warn").capitalize()
        if mode not in ("Ignore", "Warn", "Strict"):
            raise errors.bad_request(f"fieldValidation must be Ignore, Warn or Strict, not {mode!r}")

        def admit(obj: dict[str, Any]) -> dict[str, Any]:
            if spec.schema is None:
                return semantics.builtin_strategy(spec, obj)
            unknown = [f'unknown field "{path}"' for path in schema.unknown_fields(spec.schema, obj)]
            if unknown and mode == "Strict":
                raise errors.bad_request(f"strict decoding error: {', '.join(unknown)}")
            if unknown and mode == "Warn":
                self._warnings[request] = unknown
            admitted = schema.default_and_prune(spec.schema, obj)
            found = schema.validate(spec.schema, admitted) + cel_rules.problems(spec.schema, admitted, old)
            if found:
                raise errors.invalid_fields(spec, admitted["metadata"].get("name"), found)
            return admitted

        return admit

    def _namespace_spec(self) -> ResourceSpec:
        spec = self.spec_for(NAMESPACES)
        assert spec is not None
        return spec

    def _existing(self, request: rendering.Request, spec: ResourceSpec) -> dict[str, Any]:
        assert request.resource is not None
        if request.name is None:
            raise errors.method_not_allowed(str(request.method.value))
        old = self.get_object(request.resource, request.namespace, request.name)
        if old is None:
            raise errors.not_found(spec, request.name)
        return old

    def _update(self, request: rendering.Request, spec: ResourceSpec) -> dict[str, Any]:
        old = self._existing(request, spec)
        name = old["metadata"]["name"]
        if request.method == kmock.method.PUT:
            candidate = request.data
        else:
            content_type = request.headers.get("Content-Type", "")
            try:
                candidate = patching.apply_patch(old, request.data, content_type, custom=spec.custom)
            except patching.UnsupportedPatchTypeError as exc:
                accepted = patching.accepted_patch_types(custom=spec.custom)
                raise errors.unsupported_media_type(str(exc), accepted) from exc
            except patching.PatchTestFailedError as exc:
                raise errors.invalid(spec, name, "metadata.resourceVersion", f"test failed: {exc}") from exc
            except patching.PatchError as exc:
                raise errors.invalid(spec, name, "body", str(exc)) from exc
        new = semantics.updated_object(
            old,
            candidate,
            spec,
            to_status=request.subresource == "status",
            require_resource_version=request.method == kmock.method.PUT and spec.custom,
            admit=self._admission(request, spec, old),
        )
        if new == old:
            return old  # a no-op write: no new resourceVersion, no watch event
        semantics.versioned(new, self._next_version())
        assert request.resource is not None
        if semantics.is_released(new):
            self._record(request.resource, "DELETED", new)
            self._finish_namespace_if_empty(new["metadata"].get("namespace"))
        else:
            self._record(request.resource, "MODIFIED", new)
        return new

    def _delete(self, request: rendering.Request, spec: ResourceSpec) -> dict[str, Any]:
        assert request.resource is not None
        old = self._existing(request, spec)
        semantics.check_delete_preconditions(old, request.data)
        if old["metadata"].get("finalizers"):
            if old["metadata"].get("deletionTimestamp"):
                return old
            new = semantics.versioned(semantics.marked_for_deletion(old), self._next_version())
            self._record(request.resource, "MODIFIED", new)
            return new
        if _gvr(request.resource) == _gvr(NAMESPACES):
            return self._terminate_namespace(old)
        return self._remove(request.resource, old)

    def _remove(self, resource: kmock.resource, old: dict[str, Any]) -> dict[str, Any]:
        """Delete now (no finalizers left); a terminating namespace goes once it is empty."""
        gone = semantics.versioned(dict(old, metadata=dict(old["metadata"])), self._next_version())
        self._record(resource, "DELETED", gone)
        self._finish_namespace_if_empty(old["metadata"].get("namespace"))
        return gone

    # -- namespaces: the namespace controller's part ----------------------------------------------

    def _terminate_namespace(self, namespace: dict[str, Any]) -> dict[str, Any]:
        """Mark Terminating and delete its content; the namespace goes when nothing is left.

        Objects with finalizers are only marked for deletion, as for any DELETE, and keep the
        namespace Terminating until their finalizers are removed (e.g. by kopf).
        """
        name = namespace["metadata"]["name"]
        if namespace["metadata"].get("deletionTimestamp"):
            return namespace
        marked = semantics.marked_for_deletion(namespace)
        marked["status"] = {"phase": "Terminating"}
        marked = semantics.versioned(marked, self._next_version())
        self._record(NAMESPACES, "MODIFIED", marked)
        for (resource, object_namespace, _), stored in list(self.objects.items()):
            if object_namespace != name or stored.deleted:
                continue
            current = dict(stored.raw)
            if not current["metadata"].get("finalizers"):
                gone = semantics.versioned(current, self._next_version())
                self._record(resource, "DELETED", gone)
            elif not current["metadata"].get("deletionTimestamp"):
                self._record(
                    resource,
                    "MODIFIED",
                    semantics.versioned(semantics.marked_for_deletion(current), self._next_version()),
                )
        self._finish_namespace_if_empty(name)
        return self.get_object(NAMESPACES, None, name) or marked

    def _finish_namespace_if_empty(self, name: str | None) -> None:
        namespace = self.get_object(NAMESPACES, None, name) if name else None
        if namespace is None or not namespace["metadata"].get("deletionTimestamp"):
            return
        if any(ns == name and not stored.deleted for (_, ns, _), stored in self.objects.items()):
            return
        self._record(NAMESPACES, "DELETED", semantics.versioned(namespace, self._next_version()))

    # -- answers (kmock fallbacks) ----------------------------------------------------------------

    async def _serve_version(self, request: rendering.Request) -> rendering.Payload:
        """``/api/v1`` and ``/apis/GROUP/VERSION`` as the API server lists them.

        kmock repeats a resource's short names and verbs on its subresources, so kubectl finds
        ``ns`` ambiguous (``namespaces/status``) and refuses it; the API server gives
        subresources no short names, no singular name and only get/patch/update.
        """
        assert request.resource is not None
        wanted = (request.resource.group or "", request.resource.version or "")
        entries: list[dict[str, Any]] = []
        for resource in sorted(self._get_resources(), key=lambda r: r.plural or ""):
            spec = self.spec_for(resource)
            if spec is None or (spec.group, spec.version) != wanted:
                continue
            info = self.resources[resource]
            common: dict[str, Any] = {"namespaced": spec.namespaced, "kind": spec.kind}
            entry = {
                "name": spec.plural,
                "singularName": spec.singular,
                "verbs": sorted(info.verbs or ALL_VERBS),
            }
            entry |= common
            entry |= {"shortNames": sorted(spec.short_names)} if spec.short_names else {}
            entry |= {"categories": sorted(info.categories)} if info.categories else {}
            entries.append(entry)
            for sub in sorted(info.subresources):
                sub_entry = {
                    "name": f"{spec.plural}/{sub}",
                    "singularName": "",
                    "verbs": ["get", "patch", "update"],
                }
                entries.append(sub_entry | common)
        if not entries and wanted[0]:
            raise errors.resource_not_found()
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "/".join(part for part in wanted if part),
            "resources": entries,
        }

    def _spec_of(self, request: rendering.Request) -> ResourceSpec:
        assert request.resource is not None
        spec = self.spec_for(request.resource)
        if spec is None:
            raise errors.resource_not_found()
        return spec

    def _predicate(self, request: rendering.Request) -> Predicate:
        try:
            return selectors.combined(
                request.params.get("labelSelector", ""), request.params.get("fieldSelector", "")
            )
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from exc

    def _maybe_table(
        self, request: rendering.Request, spec: ResourceSpec, objs: list[dict[str, Any]]
    ) -> dict[str, Any] | None:
        if not tables.wants_table(request.headers.get("Accept", "")):
            return None
        return tables.build_table(
            spec,
            objs,
            resource_version=str(self._resource_version),
            include_object=request.params.get("includeObject", "Metadata"),
        )

    async def _serve_list(self, request: rendering.Request) -> rendering.Payload:
        spec = self._spec_of(request)
        assert request.resource is not None
        predicate = self._predicate(request)
        limit = paging.limit_of(request.params.get("limit"))
        token = request.params.get("continue")
        async with self._lock:
            if token:
                position = paging.decode(token)
                version = position.resource_version
                listed = self._pages.read(_gvr(request.resource), request.namespace, version)
                objs = [o for o in listed if paging.key_of(o) > position.after and predicate(o)]
            else:
                version = self._resource_version
                listed = self.live_objects(request.resource, request.namespace)
                objs = [o for o in listed if predicate(o)]
                if limit is not None and len(objs) > limit:  # later pages are read from this snapshot
                    self._pages.keep(_gvr(request.resource), request.namespace, version, listed)
        page = paging.page_of(objs, limit, version)
        metadata: dict[str, Any] = {"resourceVersion": str(version), "continue": page.token}
        filtered = request.params.get("labelSelector") or request.params.get("fieldSelector")
        if page.remaining and not filtered:  # the API server counts only what no selector filtered
            metadata["remainingItemCount"] = page.remaining
        table = self._maybe_table(request, spec, page.items)
        if table is not None:
            table["metadata"].update(metadata)
            return table
        kind = spec.effective_list_kind
        return {"apiVersion": spec.api_version, "kind": kind, "metadata": metadata, "items": page.items}

    async def _serve_fetch(self, request: rendering.Request) -> rendering.Payload:
        spec = self._spec_of(request)
        assert request.resource is not None and request.name is not None
        async with self._lock:
            obj = self.get_object(request.resource, request.namespace, request.name)
        if obj is None:
            raise errors.not_found(spec, request.name)
        table = self._maybe_table(request, spec, [obj])
        return table if table is not None else obj

    def _written(self, request: rendering.Request, status: int) -> rendering.Response:
        """The stored object, with a ``Warning`` header per dropped unknown field (as the API server)."""
        warnings_ = self._warnings.get(request, [])
        header = ", ".join(f"299 - {json.dumps(text)}" for text in warnings_)
        # "Warning": None also clears a header that kmock keeps on the reaction from an earlier answer.
        headers = {"Warning": header or None}
        return rendering.Response(status=status, headers=headers, payload=self._results[request])

    async def _serve_create(self, request: rendering.Request) -> rendering.Payload:
        return self._written(request, 201)

    async def _serve_update(self, request: rendering.Request) -> rendering.Payload:
        return self._written(request, 200)

    async def _serve_delete(self, request: rendering.Request) -> rendering.Payload:
        return self._results[request]

    async def _serve_server_version(self, request: rendering.Request) -> rendering.Payload:
        version = await super()._serve_server_version(request)
        assert isinstance(version, dict)
        return {**version, **SERVER_VERSION, "gitCommit": ""}

    async def _serve_openapi(self, request: rendering.Request) -> rendering.Payload:
        by_group_version: dict[str, list[ResourceSpec]] = collections.defaultdict(list)
        for resource in self._get_resources():
            spec = self.spec_for(resource)
            if spec is not None:
                by_group_version[openapi.group_version_path(spec.group, spec.version)].append(spec)
        documents = {path: openapi.group_version_document(specs) for path, specs in by_group_version.items()}
        wanted = request.url.path.removeprefix("/openapi/v3").strip("/")
        if not wanted:
            return openapi.root_index(documents)
        if wanted not in documents:
            raise errors.resource_not_found()
        return documents[wanted]

    def _serve_watch(self, request: rendering.Request) -> rendering.Payload:  # type: ignore[override]
        # The API server streams watch events as application/json (kubectl refuses octet-stream).
        return rendering.Response(headers={"Content-Type": "application/json"}, payload=self._watch(request))

    async def _watch(self, request: rendering.Request) -> AsyncIterator[rendering.Payload]:
        spec = self._spec_of(request)
        assert request.resource is not None and self._changed is not None
        predicate = self._predicate(request)
        if request.name is not None:
            name, base = request.name, predicate
            predicate = lambda obj: obj["metadata"]["name"] == name and base(obj)  # noqa: E731
        params = request.params
        timeout = float(params["timeoutSeconds"]) if params.get("timeoutSeconds") else None
        deadline = None if timeout is None else asyncio.get_running_loop().time() + timeout
        since = params.get("resourceVersion", "")
        yield b""  # send the headers now: the stream is open even if nothing happens

        def visible(obj: Mapping[str, Any]) -> bool:
            namespace_ok = request.namespace is None or obj["metadata"].get("namespace") == request.namespace
            return namespace_ok and predicate(obj)

        def rendered(event: dict[str, Any]) -> dict[str, Any]:
            """As a one-row Table when asked for Tables (``kubectl get -w``), else as stored."""
            table = self._maybe_table(request, spec, [event["object"]])
            return event if table is None else {"type": event["type"], "object": table}

        initial: list[dict[str, Any]]
        async with self._lock:
            if since in ("", "0") or params.get("sendInitialEvents") == "true":
                initial = [
                    {"type": "ADDED", "object": o}
                    for o in self.live_objects(request.resource, None)
                    if visible(o)
                ]
                cursor = self._resource_version
            else:
                initial, cursor = [], int(since) if since.isdigit() else self._resource_version
        for event in initial:
            yield rendered(event)
        if params.get("sendInitialEvents") == "true" and params.get("allowWatchBookmarks") == "true":
            yield _initial_events_end_bookmark(spec, cursor)

        gvr = _gvr(request.resource)
        while True:
            async with self._changed:
                expired = self._log.expired(gvr, cursor)
                events = [] if expired else self._log.after(gvr, cursor)
                if not events and not expired:
                    if self._closing:
                        return
                    remaining = None if deadline is None else deadline - asyncio.get_running_loop().time()
                    if remaining is not None and remaining <= 0:
                        return
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), remaining)
                    continue
                cursor = events[-1][0] if events else cursor
            if expired:
                yield _expired(cursor, self._resource_version)
                return
            for _, event in events:
                if visible(event["object"]):
                    yield rendered(event)


def _expired(resource_version: int, current: int) -> dict[str, Any]:
    """The watch error for a resourceVersion older than the kept history (kopf then re-lists)."""
    status = errors.ApiError(
        status=410, reason="Expired", message=f"too old resource version: {resource_version} ({current})"
    )
    return {"type": "ERROR", "object": errors.status_body(status)}


def _initial_events_end_bookmark(spec: ResourceSpec, resource_version: int) -> dict[str, Any]:
    return {
        "type": "BOOKMARK",
        "object": {
            "apiVersion": spec.api_version,
            "kind": spec.kind,
            "metadata": {
                "resourceVersion": str(resource_version),
                "annotations": {"k8s.io/initial-events-end": "true"},
            },
        },
    }


def _priority_order(reaction: kmock.Reaction) -> tuple[float, ...]:
    """Highest first; shorter priority chains padded with zeros, as kmock compares them
    (so `fallback ** N` ranks N within the lowest tier)."""
    return tuple(-p for p in reaction.priorities) + (0.0,) * (8 - len(reaction.priorities))
