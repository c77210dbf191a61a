"""Parsing incoming HTTP requests into kmock's ``Request`` with Kubernetes URL rules.

kmock 0.8 parses ``/api/v1/namespaces`` with an exception and reads ``/api/v1/namespaces/NAME``
as a namespace with no resource, so namespaces themselves could not be served. This parser knows
that ``namespaces/{ns}/{plural}`` is a namespaced path, while ``namespaces``, ``namespaces/{name}``
and ``namespaces/{name}/status|finalize`` address Namespace objects.
"""

from __future__ import annotations

import aiohttp.web
import kmock
from kmock._internal import parsing, rendering

_NAMESPACE_SUBRESOURCES = ("status", "finalize")


def parse_path(path: str) -> parsing.ParsedPath:
    parts = [part for part in path.strip("/").split("/") if part]
    if len(parts) >= 3 and parts[0] == "apis":
        group, version, rest = parts[1], parts[2], parts[3:]
    elif len(parts) >= 2 and parts[0] == "api":
        group, version, rest = "", parts[1], parts[2:]
    else:
        return parsing.parse_path(path)  # discovery (/apis/GROUP) and non-Kubernetes paths
    namespace = None
    addresses_namespace = len(rest) == 2 or (len(rest) == 3 and rest[2] in _NAMESPACE_SUBRESOURCES)
    if len(rest) >= 3 and rest[0] == "namespaces" and not (group == "" and addresses_namespace):
        namespace, rest = rest[1], rest[2:]
    return parsing.ParsedPath(
        group=group,
        version=version,
        plural=rest[0] if rest else None,
        namespace=namespace,
        name=rest[1] if len(rest) > 1 else None,
        subresource="/".join(rest[2:]) or None,
    )


async def parse_request(raw_request: aiohttp.web.BaseRequest, *, request_id: int) -> rendering.Request:
    """The same ``Request`` kmock builds, with the Kubernetes path parsed by ``parse_path``."""
    body = await raw_request.read()
    text = await raw_request.text()
    try:
        data = await raw_request.json()
    except ValueError:
        data = None
    k8s = parse_path(raw_request.path)
    resource = (
        None if k8s.group is None else kmock.resource(group=k8s.group, version=k8s.version, plural=k8s.plural)
    )
    method = kmock.method(raw_request.method)
    return rendering.Request(
        id=request_id,
        raw_request=raw_request,
        url=raw_request.url,
        method=method,
        params=dict(raw_request.query),
        headers=dict(raw_request.headers),
        cookies=dict(raw_request.cookies),
        data=data,
        body=body,
        text=text,
        action=parsing.guess_k8s(k8s, method, dict(raw_request.query)),
        resource=resource,
        namespace=k8s.namespace,
        name=k8s.name,
        subresource=k8s.subresource,
    )
