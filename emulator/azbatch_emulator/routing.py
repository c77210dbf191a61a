"""Routing as ARM and the Batch service do it: path segments that name types and actions are
case-insensitive, and repeated slashes are collapsed, before the emulator's routes are matched.

The Azure CLI sends `resourcegroups` (lower case), `Microsoft.Batch//batchAccounts` (`az resource`)
and `//metadata/endpoints` (`az cloud register` with an endpoint ending in a slash); Azure answers
all of them. Only the type and action positions are rewritten to their registered spelling, never
names (a pool called `Pools` keeps its name).
"""

from __future__ import annotations

import re

from aiohttp import web
from aiohttp.web_urldispatcher import UrlMappingMatchInfo

_SLASHES = re.compile(r"/{2,}")

ARM_KEYWORDS = {
    word.lower(): word
    for word in (
        "subscriptions",
        "resourceGroups",
        "providers",
        "tenants",
        "resources",
        "Microsoft.Batch",
        "Microsoft.Resources",
        "batchAccounts",
        "pools",
        "stopResize",
        "disableAutoScale",
        "poolOperationResults",
        "listKeys",
        "locations",
        "quotas",
        "metadata",
        "endpoints",
    )
}
BATCH_KEYWORDS = {
    word: word
    for word in (
        "pools",
        "nodes",
        "extensions",
        "nodecounts",
        "resize",
        "stopresize",
        "enableautoscale",
        "disableautoscale",
        "evaluateautoscale",
        "removenodes",
        "updateproperties",
        "supportedimages",
    )
}
ENTRA_SEGMENTS = ("oauth2", "v2.0", "discovery", ".well-known")


def _keyword(segment: str, words: dict[str, str]) -> str:
    return words.get(segment.lower(), segment)


def _arm_type_positions(segments: list[str]) -> list[int]:
    """Indexes of the segments that name a type or an action (not a resource name)."""
    positions = [0]
    if len(segments) > 2:
        positions.append(2)
    start = None
    lowered = [s.lower() for s in segments]
    if len(segments) > 2 and lowered[2] == "providers":
        start = 3
    elif len(segments) > 4 and lowered[2] == "resourcegroups":
        positions.append(4)
        if lowered[4] == "providers":
            start = 5
    if start is not None:
        positions.append(start)  # the namespace
        positions.extend(range(start + 1, len(segments), 2))  # type, name, type, name, ..., action
    return positions


def canonical_path(path: str) -> str:
    """The path the emulator's routes are registered under (see the module docstring)."""
    collapsed = _SLASHES.sub("/", path)
    segments = collapsed.strip("/").split("/")
    if not segments or not segments[0]:
        return collapsed
    head = segments[0].lower()
    if head == "metadata":
        segments = [_keyword(segment, ARM_KEYWORDS) for segment in segments]
    elif head in ("subscriptions", "providers", "tenants"):
        for index in _arm_type_positions(segments):
            if index < len(segments):
                segments[index] = _keyword(segments[index], ARM_KEYWORDS)
    elif head == "batch" and len(segments) > 2:
        segments[0] = "batch"
        for index in range(2, len(segments), 2):
            segments[index] = _keyword(segments[index], BATCH_KEYWORDS)
    else:
        return collapsed
    return "/" + "/".join(segments)


def plane_of(path: str) -> str:
    """Which plane a path that matches no route belongs to (for the shape of its 404)."""
    segments = _SLASHES.sub("/", path).strip("/").split("/")
    head = segments[0].lower() if segments else ""
    if head == "batch":
        return "batch"
    if head == "_admin":
        return "admin"
    if len(segments) > 1 and segments[1].lower() in ENTRA_SEGMENTS:
        return "entra"
    return "mgmt"


class CanonicalRouter(web.UrlDispatcher):
    """A router that matches the canonical form of the path; handlers still see the request as sent."""

    async def resolve(self, request: web.Request) -> UrlMappingMatchInfo:
        path = request.rel_url.path
        canonical = canonical_path(path)
        if canonical != path:
            request = request.clone(rel_url=request.rel_url.with_path(canonical))
        match: UrlMappingMatchInfo = await super().resolve(request)
        return match
