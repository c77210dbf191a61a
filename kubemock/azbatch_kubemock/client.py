"""A small synchronous Kubernetes client for tests (stdlib only; works against any API server).

Use it from test code while the stand-in (``KubeStandInThread``) and kopf run in other threads.
It speaks only the public API: discovery to map kinds to resources, create / merge-patch,
get, delete, list with selectors, events of an object, and waiting for a condition::

    client = KubeClient(kube.url)
    pool = client.apply(manifest)
    client.wait_for(pool, lambda obj: obj.get("status", {}).get("observedGeneration") == 1, "reconciled")
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from typing import Any

Obj = dict[str, Any]


class KubeApiError(RuntimeError):
    """A non-2xx answer; carries the ``Status`` fields so tests can assert on them."""

    def __init__(self, code: int, reason: str, message: str, body: Any) -> None:
        super().__init__(f"{code} {reason}: {message}")
        self.code = code
        self.reason = reason
        self.message = message
        self.body = body


class WaitTimeoutError(AssertionError):
    """``wait_for`` gave up; the message shows what was awaited and the last object seen."""


def _not_yet(obj: Mapping[str, Any], what: str, timeout: float, current: Any) -> WaitTimeoutError:
    meta = obj.get("metadata", {})
    return WaitTimeoutError(
        f"{obj.get('kind')} {meta.get('namespace', '')}/{meta.get('name')}: not {what} after "
        f"{timeout:.1f} s; last seen:\n{_pretty(current)}"
    )


def _pretty(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True) if obj is not None else "<absent>"


class KubeClient:
    def __init__(
        self,
        url: str,
        *,
        token: str | None = None,
        timeout: float = 10.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        """``ssl_context``: for an https server, its CA and any client certificate (a real API server)."""
        if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
            raise ValueError(f"KubeClient needs an http(s) API server URL, got {url!r}")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self.ssl_context = ssl_context
        self._resources: dict[tuple[str, str], tuple[str, bool]] = {}

    # -- raw HTTP -------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        content_type: str = "application/json",
        params: Mapping[str, str] | None = None,
    ) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        data = None if body is None else json.dumps(body).encode()
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = content_type
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        url = f"{self.url}{path}{query}"  # the scheme is checked in __init__: http(s) only
        request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=self.ssl_context
            ) as response:
                return json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            text = exc.read()
            try:
                status = json.loads(text)
            except ValueError:
                status = {"message": text.decode(errors="replace")}
            raise KubeApiError(
                exc.code, status.get("reason", ""), status.get("message", ""), status
            ) from None

    # -- addressing -----------------------------------------------------------------------------

    def resource_of(self, api_version: str, kind: str) -> tuple[str, bool]:
        """``(plural, namespaced)`` of a kind, from the server's discovery."""
        key = (api_version, kind)
        if key not in self._resources:
            prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
            listing = self.request("GET", prefix)
            for resource in listing.get("resources", []):
                if "/" not in resource["name"]:
                    self._resources[(api_version, resource["kind"])] = (
                        resource["name"],
                        resource["namespaced"],
                    )
            if key not in self._resources:
                raise KubeApiError(
                    404, "NotFound", f"the server has no kind {kind} in {api_version}", listing
                )
        return self._resources[key]

    def path(self, api_version: str, kind: str, name: str | None = None, namespace: str | None = None) -> str:
        plural, namespaced = self.resource_of(api_version, kind)
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        scope = f"/namespaces/{namespace or 'default'}" if namespaced else ""
        return f"{prefix}{scope}/{plural}" + (f"/{name}" if name else "")

    def path_of(self, obj: Mapping[str, Any]) -> str:
        meta = obj.get("metadata", {})
        return self.path(obj["apiVersion"], obj["kind"], meta.get("name"), meta.get("namespace"))

    # -- operations -----------------------------------------------------------------------------

    def create(self, manifest: Mapping[str, Any]) -> Obj:
        meta = manifest.get("metadata", {})
        collection = self.path(manifest["apiVersion"], manifest["kind"], None, meta.get("namespace"))
        result: Obj = self.request("POST", collection, manifest)
        return result

    def apply(self, manifest: Mapping[str, Any]) -> Obj:
        """Create the object, or merge-patch it when it exists (like a client-side apply)."""
        try:
            return self.create(manifest)
        except KubeApiError as exc:
            if exc.code != 409:
                raise
        result: Obj = self.request(
            "PATCH", self.path_of(manifest), manifest, content_type="application/merge-patch+json"
        )
        return result

    def patch(self, obj: Mapping[str, Any], patch: Mapping[str, Any], *, subresource: str = "") -> Obj:
        path = self.path_of(obj) + (f"/{subresource}" if subresource else "")
        result: Obj = self.request("PATCH", path, patch, content_type="application/merge-patch+json")
        return result

    def get(self, obj: Mapping[str, Any]) -> Obj | None:
        """The current object (by apiVersion, kind, metadata.name/namespace), or None if absent."""
        try:
            result: Obj = self.request("GET", self.path_of(obj))
            return result
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, obj: Mapping[str, Any]) -> Obj | None:
        """Ask for deletion; None when the object was already absent."""
        try:
            result: Obj = self.request("DELETE", self.path_of(obj))
            return result
        except KubeApiError as exc:
            if exc.code == 404:
                return None
            raise

    def list_objects(
        self,
        api_version: str,
        kind: str,
        *,
        namespace: str | None = None,
        label_selector: str = "",
        field_selector: str = "",
    ) -> list[Obj]:
        plural, namespaced = self.resource_of(api_version, kind)
        prefix = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        scope = f"/namespaces/{namespace}" if namespaced and namespace else ""
        params = {
            k: v for k, v in (("labelSelector", label_selector), ("fieldSelector", field_selector)) if v
        }
        items: list[Obj] = self.request("GET", f"{prefix}{scope}/{plural}", params=params)["items"]
        return items

    def events_for(self, obj: Mapping[str, Any]) -> list[Obj]:
        """Events whose ``involvedObject`` is this object (as ``kubectl describe`` finds them)."""
        meta = obj.get("metadata", {})
        terms = [f"involvedObject.name={meta['name']}", f"involvedObject.kind={obj['kind']}"]
        if meta.get("uid"):
            terms.append(f"involvedObject.uid={meta['uid']}")
        return self.list_objects(
            "v1", "Event", namespace=meta.get("namespace"), field_selector=",".join(terms)
        )

    def wait_for(
        self,
        obj: Mapping[str, Any],
        predicate: Callable[[Obj | None], bool],
        what: str,
        *,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> Obj | None:
        """Poll until ``predicate(current object or None)`` holds; returns the object seen then.

        On timeout raises ``WaitTimeoutError`` naming ``what`` was awaited and showing the last object.
        """
        deadline = time.monotonic() + timeout
        while True:
            current = self.get(obj)
            if predicate(current):
                return current
            if time.monotonic() >= deadline:
                raise _not_yet(obj, what, timeout, current)
            time.sleep(interval)

    def watch_for(
        self,
        obj: Mapping[str, Any],
        predicate: Callable[[Obj | None], bool],
        what: str,
        *,
        timeout: float = 10.0,
    ) -> Obj | None:
        """Like ``wait_for``, but through a watch: ``predicate`` sees every version of the object
        (a state that lasts milliseconds included), not only the ones a poll happens to catch."""
        meta = obj.get("metadata", {})
        key = f"{meta.get('namespace') or ''}/{meta.get('name')}"
        try:
            seen = self.watch_list_for(
                obj["apiVersion"],
                obj["kind"],
                lambda objects: predicate(objects.get(key)),
                what,
                namespace=meta.get("namespace"),
                field_selector=f"metadata.name={meta.get('name')}",
                timeout=timeout,
            )
        except WaitTimeoutError:
            raise _not_yet(obj, what, timeout, self.get(obj)) from None
        return seen.get(key)

    def watch_list_for(
        self,
        api_version: str,
        kind: str,
        predicate: Callable[[dict[str, Obj]], bool],
        what: str,
        *,
        namespace: str | None = None,
        field_selector: str = "",
        timeout: float = 10.0,
    ) -> dict[str, Obj]:
        """List, then watch from the list's resourceVersion until ``predicate`` holds for the
        collection (``namespace/name`` -> object). It sees the collection after every change, in
        the server's order: a moment when two objects were in some state at once is seen, however
        short, and two reads that straddle a change never make one up. After a 410 Expired it lists
        again. Returns the collection as it was when ``predicate`` held."""
        collection = self.path(api_version, kind, None, namespace)
        selected = {"fieldSelector": field_selector} if field_selector else {}
        deadline = time.monotonic() + timeout
        objects, version = self._listed(collection, selected)
        while not predicate(objects):
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(f"not {what} after {timeout:.1f} s; last seen:\n{_pretty(objects)}")
            params = {"watch": "true", "resourceVersion": version, **selected}
            url = f"{self.url}{collection}?{urllib.parse.urlencode(params)}"
            headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
            request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s), checked in __init__
            try:
                with urllib.request.urlopen(  # noqa: S310
                    request, timeout=max(0.1, min(5.0, deadline - time.monotonic())), context=self.ssl_context
                ) as stream:
                    for line in stream:
                        if not line.strip():
                            continue
                        event = json.loads(line)
                        if event.get("type") == "ERROR":  # 410 Expired: list again
                            objects, version = self._listed(collection, selected)
                            break
                        seen: Obj = event.get("object") or {}
                        meta = seen.get("metadata", {})
                        version = str(meta.get("resourceVersion", version))
                        if event.get("type") == "BOOKMARK":
                            continue
                        key = f"{meta.get('namespace') or ''}/{meta.get('name')}"
                        if event.get("type") == "DELETED":
                            objects.pop(key, None)
                        else:
                            objects[key] = seen
                        if predicate(objects):
                            return objects
            except TimeoutError:
                continue
        return objects

    def _listed(self, collection: str, params: Mapping[str, str]) -> tuple[dict[str, Obj], str]:
        listed = self.request("GET", collection, params=params)
        objects = {
            f"{item['metadata'].get('namespace') or ''}/{item['metadata']['name']}": item
            for item in listed.get("items") or []
        }
        return objects, str((listed.get("metadata") or {}).get("resourceVersion", ""))

    def wait_for_list(
        self,
        fetch: Callable[[], list[Obj]],
        predicate: Callable[[list[Obj]], bool],
        what: str,
        *,
        timeout: float = 10.0,
        interval: float = 0.05,
    ) -> list[Obj]:
        """Poll ``fetch()`` (e.g. ``lambda: client.events_for(obj)``) until ``predicate`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            found = fetch()
            if predicate(found):
                return found
            if time.monotonic() >= deadline:
                raise WaitTimeoutError(f"not {what} after {timeout:.1f} s; last seen:\n{_pretty(found)}")
            time.sleep(interval)

    def wait_gone(self, obj: Mapping[str, Any], *, timeout: float = 10.0) -> None:
        self.wait_for(obj, lambda current: current is None, "deleted", timeout=timeout)
