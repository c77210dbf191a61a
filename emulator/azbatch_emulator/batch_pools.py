"""Batch data-plane pools (`/batch/{account}/pools...`), on the same store as the management plane.

A pool made through either plane is one pool: this module only translates between the data plane's
shape (`BatchPool`, flat: `targetDedicatedNodes`, `enableAutoScale`, `virtualMachineConfiguration`,
lower-case enum values) and the ARM body the store keeps (`properties.scaleSettings`,
`deploymentConfiguration`, ...), and calls the store's own operations, so the service rules are the
same on both planes. Only what the data plane has and ARM has not lives here (PoolExists, the
resize and remove-nodes requests, the data plane's status codes and headers).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from aiohttp import web

from azbatch_emulator.clock import iso, parse_duration
from azbatch_emulator.errors import BATCH_JSON_TYPE, ServiceError, dumps
from azbatch_emulator.pools import Pool, evaluate_formula
from azbatch_emulator.rules import batch_api_version
from azbatch_emulator.store import Account, Store

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator

PREFIX = "/batch/{account}"
DEFAULT_PAGE = 1000
AUTOSCALE_RUN_ENTITY = "Microsoft.Azure.Batch.Protocol.Entities.AutoScaleRun"
REMOVED_IN_2025_06_01 = (
    "certificateReferences",
    "targetNodeCommunicationMode",
    "currentNodeCommunicationMode",
    "resourceTags",
)
"""BatchPool properties the 2025-06-01 data plane no longer has (2024-02-01.19.0 still returns them)."""

# The data plane spells enum values in lower (camel) case, ARM in Pascal case: (ARM, data plane).
_ENUMS: dict[str, tuple[tuple[str, str], ...]] = {
    key: tuple((v, v.lower()) if isinstance(v, str) else v for v in values)
    for key, values in {
        "nodeFillType": ("Spread", "Pack"),
        "scope": ("Task", "Pool"),
        "elevationLevel": ("NonAdmin", "Admin"),
        "nodeDeallocationOption": ("Requeue", "Terminate", "TaskCompletion", "RetainedData"),
        "targetNodeCommunicationMode": ("Default", "Classic", "Simplified"),
        "provision": ("BatchManaged", "UserManaged", "NoPublicIPAddresses"),
        "loginMode": ("Batch", "Interactive"),
        "mode": ("Automatic", "Manual", "Rolling"),
        "caching": ("None", "ReadOnly", "ReadWrite"),
        "storageAccountType": ("Standard_LRS", "Premium_LRS", "StandardSSD_LRS"),
        "policy": ("Regional", "Zonal"),
        "placement": ("CacheDisk",),
        "targets": ("OsDisk", "TemporaryDisk"),
        "dynamicVNetAssignmentScope": ("None", "Job"),
        "protocol": ("TCP", "UDP"),
        "access": ("Allow", "Deny"),
        "type": (("DockerCompatible", "dockerCompatible"), ("CriCompatible", "criCompatible")),
        "securityType": (("TrustedLaunch", "trustedLaunch"), ("ConfidentialVM", "confidentialVM")),
    }.items()
}
_TO_ARM = {key: {b.lower(): a for a, b in pairs} for key, pairs in _ENUMS.items()}
_TO_BATCH = {key: {a.lower(): b for a, b in pairs} for key, pairs in _ENUMS.items()}

# BatchPool property -> ARM pool property, where only the name differs.
_RENAMED = {"certificateReferences": "certificates", "applicationPackageReferences": "applicationPackages"}
_SAME = (
    "displayName",
    "vmSize",
    "networkConfiguration",
    "startTask",
    "taskSlotsPerNode",
    "taskSchedulingPolicy",
    "userAccounts",
    "metadata",
    "mountConfiguration",
    "targetNodeCommunicationMode",
    "upgradePolicy",
    "resourceTags",
)


def _recase(value: Any, table: dict[str, dict[str, str]]) -> Any:
    """Enum values of known keys, anywhere in a body, spelled as `table` wants."""
    if isinstance(value, list):
        return [_recase(v, table) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for key, item in value.items():
        if key in table and isinstance(item, str):
            out[key] = table[key].get(item.lower(), item)
        elif key in table and isinstance(item, list) and all(isinstance(i, str) for i in item):
            out[key] = [table[key].get(i.lower(), i) for i in item]
        else:
            out[key] = _recase(item, table)
    return out


def _vm_configuration(vmc: Any, *, to_arm: bool) -> Any:
    """virtualMachineConfiguration keys the two planes spell differently (the rest is the same)."""
    if not isinstance(vmc, dict):
        return vmc
    out = copy.deepcopy(vmc)
    agent = ("nodeAgentSKUId", "nodeAgentSkuId") if to_arm else ("nodeAgentSkuId", "nodeAgentSKUId")
    if agent[0] in out:
        out[agent[1]] = out.pop(agent[0])
    image = out.get("imageReference")
    image_id = ("virtualMachineImageId", "id") if to_arm else ("id", "virtualMachineImageId")
    if isinstance(image, dict) and image_id[0] in image:
        image[image_id[1]] = image.pop(image_id[0])
    return out


def _network(config: Any, *, to_arm: bool) -> Any:
    endpoints = config.get("endpointConfiguration") if isinstance(config, dict) else None
    if not isinstance(endpoints, dict):
        return config
    out = copy.deepcopy(config)
    names = ("inboundNATPools", "inboundNatPools") if to_arm else ("inboundNatPools", "inboundNATPools")
    if names[0] in endpoints:
        out["endpointConfiguration"][names[1]] = out["endpointConfiguration"].pop(names[0])
    return out


def batch_etag(pool: Pool) -> str:
    """The data plane's ETag: the ARM one without the weak marker and quotes."""
    return pool.etag.removeprefix("W/").strip('"')


def _arm_if_match(pool: Pool | None, header: str | None) -> str | None:
    if not header or pool is None:
        return header
    return pool.etag if header.removeprefix("W/").strip('"') == batch_etag(pool) else header


def bad_body(reason: str) -> ServiceError:
    return ServiceError(
        400,
        "InvalidRequestBody",
        "The specified Request Body is not syntactically valid.",
        details=[("Reason", reason)],
    )


def missing_property(name: str) -> ServiceError:
    return ServiceError(
        400,
        "MissingRequiredProperty",
        "A required property was not specified in the request body.",
        details=[("PropertyName", name)],
    )


def _application_packages(refs: Any, account: Account) -> Any:
    if not isinstance(refs, list):
        return refs
    return [
        {"id": f"{account.arm_id}/applications/{r.get('applicationId', '')}"}
        | ({"version": r["version"]} if "version" in r else {})
        if isinstance(r, dict)
        else r
        for r in refs
    ]


def _application_references(packages: Any) -> Any:
    if not isinstance(packages, list):
        return packages
    return [
        {"applicationId": str(p.get("id", "")).rsplit("/", 1)[-1]}
        | ({"version": p["version"]} if "version" in p else {})
        if isinstance(p, dict)
        else p
        for p in packages
    ]


def _count(value: Any) -> Any:
    """A node count: JSON numbers, and numbers the client sent as strings (the Azure CLI does)."""
    if value is None:
        return 0
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def _conflicting(name: str, reason: str) -> ServiceError:
    return ServiceError(
        400,
        "InvalidPropertyValue",
        "The value provided for one of the properties in the request body is invalid.",
        details=[("PropertyName", name), ("Reason", reason)],
    )


def scale_settings(body: dict[str, Any]) -> dict[str, Any]:
    """ARM `scaleSettings` from the data plane's flat scale properties.

    As the service documents: with enableAutoScale the targets must not be given, and without it
    the formula and evaluation interval must not be."""
    if body.get("enableAutoScale"):
        for key in ("targetDedicatedNodes", "targetLowPriorityNodes"):
            if body.get(key) is not None:
                raise _conflicting(key, "must not be specified when enableAutoScale is true")
    else:
        for key in ("autoScaleFormula", "autoScaleEvaluationInterval"):
            if body.get(key) is not None:
                raise _conflicting(key, "must not be specified when enableAutoScale is false")
    if body.get("enableAutoScale"):
        if not body.get("autoScaleFormula"):
            raise missing_property("autoScaleFormula")
        auto: dict[str, Any] = {"formula": body["autoScaleFormula"]}
        if body.get("autoScaleEvaluationInterval"):
            auto["evaluationInterval"] = body["autoScaleEvaluationInterval"]
        return {"autoScale": auto}
    fixed: dict[str, Any] = {
        "targetDedicatedNodes": _count(body.get("targetDedicatedNodes")),
        "targetLowPriorityNodes": _count(body.get("targetLowPriorityNodes")),
    }
    if body.get("resizeTimeout"):
        fixed["resizeTimeout"] = body["resizeTimeout"]
    return {"fixedScale": fixed}


def arm_properties(body: dict[str, Any], account: Account, *, scale: bool) -> dict[str, Any]:
    """ARM pool properties from a data-plane pool body (create, patch or update-properties)."""
    body = _recase(body, _TO_ARM)
    props: dict[str, Any] = {key: copy.deepcopy(body[key]) for key in _SAME if key in body}
    for batch_name, arm_name in _RENAMED.items():
        if batch_name in body:
            props[arm_name] = copy.deepcopy(body[batch_name])
    if "applicationPackages" in props:
        props["applicationPackages"] = _application_packages(props["applicationPackages"], account)
    if "virtualMachineConfiguration" in body:
        props["deploymentConfiguration"] = {
            "virtualMachineConfiguration": _vm_configuration(body["virtualMachineConfiguration"], to_arm=True)
        }
    if "networkConfiguration" in props:
        props["networkConfiguration"] = _network(props["networkConfiguration"], to_arm=True)
    if "enableInterNodeCommunication" in body:
        props["interNodeCommunication"] = "Enabled" if body["enableInterNodeCommunication"] else "Disabled"
    if scale:
        props["scaleSettings"] = scale_settings(body)
    return props


def batch_pool(pool: Pool, now: float, endpoint: str, api_version: str | None) -> dict[str, Any]:
    """The pool as the data plane's `BatchPool`."""
    arm = pool.arm_json(now)
    props: dict[str, Any] = arm["properties"]
    out: dict[str, Any] = {"id": pool.name, "url": f"{endpoint}/pools/{pool.name}", "eTag": batch_etag(pool)}
    for key in ("displayName",):
        if key in props:
            out[key] = props[key]
    out |= {
        "lastModified": props["lastModified"],
        "creationTime": props["creationTime"],
        "state": "deleting" if props["provisioningState"] == "Deleting" else "active",
        "stateTransitionTime": props["provisioningStateTransitionTime"],
        "allocationState": str(props["allocationState"]).lower(),
        "allocationStateTransitionTime": props["allocationStateTransitionTime"],
        "vmSize": props.get("vmSize"),
    }
    vmc = (props.get("deploymentConfiguration") or {}).get("virtualMachineConfiguration")
    if vmc is not None:
        out["virtualMachineConfiguration"] = _vm_configuration(vmc, to_arm=False)
    scale = props.get("scaleSettings") or {}
    status = props.get("resizeOperationStatus") or {}
    auto = scale.get("autoScale")
    if isinstance(auto, dict):
        evaluated = evaluate_formula(str(auto.get("formula", "")))
        dedicated, low = evaluated[0], evaluated[1]
        out |= {
            "resizeTimeout": "PT15M",
            "targetDedicatedNodes": dedicated,
            "targetLowPriorityNodes": low,
            "enableAutoScale": True,
            "autoScaleFormula": auto.get("formula"),
            "autoScaleEvaluationInterval": auto.get("evaluationInterval", "PT15M"),
        }
        run = props.get("autoScaleRun")
        if isinstance(run, dict):
            out["autoScaleRun"] = {"timestamp": run.get("evaluationTime"), "results": run.get("results")}
    else:
        fixed = scale.get("fixedScale") or {}
        out |= {
            "resizeTimeout": fixed.get("resizeTimeout", "PT15M"),
            "targetDedicatedNodes": fixed.get("targetDedicatedNodes", 0),
            "targetLowPriorityNodes": fixed.get("targetLowPriorityNodes", 0),
            "enableAutoScale": False,
        }
    if status.get("errors"):
        out["resizeErrors"] = [
            {"code": e.get("code"), "message": e.get("message")}
            for e in status["errors"]
            if isinstance(e, dict)
        ]
    out |= {
        "currentDedicatedNodes": props.get("currentDedicatedNodes", 0),
        "currentLowPriorityNodes": props.get("currentLowPriorityNodes", 0),
        "enableInterNodeCommunication": props.get("interNodeCommunication") == "Enabled",
    }
    for key in _SAME:
        if key in props and key not in out:
            out[key] = props[key]
    for batch_name, arm_name in _RENAMED.items():
        if arm_name in props:
            out[batch_name] = props[arm_name]
    if "networkConfiguration" in out:
        out["networkConfiguration"] = _network(out["networkConfiguration"], to_arm=False)
    if "applicationPackageReferences" in out:
        out["applicationPackageReferences"] = _application_references(out["applicationPackageReferences"])
    identity = arm.get("identity")
    if isinstance(identity, dict):
        assigned = identity.get("userAssignedIdentities") or {}
        out["identity"] = {
            "type": identity.get("type", "None"),
            "userAssignedIdentities": [{"resourceId": rid, **ids} for rid, ids in assigned.items()],
        }
    if batch_api_version(api_version) >= "2025-06-01":
        for key in REMOVED_IN_2025_06_01:
            out.pop(key, None)
    recased: dict[str, Any] = _recase(out, _TO_BATCH)
    return recased


# --- $filter --------------------------------------------------------------------------------------
_POOL_CLAUSE = re.compile(
    r"^\(?\s*(?:(?P<field>id|state|allocationState|vmSize)\s+(?P<op>eq|ne)\s+'(?P<value>[^']*)'"
    r"|startswith\(\s*id\s*,\s*'(?P<prefix>[^']*)'\s*\))\s*\)?$",
    re.IGNORECASE,
)


def pool_filter(text: str | None) -> Callable[[dict[str, Any]], bool]:
    """The subset of the data plane's pool `$filter` the emulator understands; the rest is refused."""
    if not text:
        return lambda pool: True
    clauses = [_POOL_CLAUSE.match(p.strip()) for p in re.split(r"\s+or\s+", text.strip(), flags=re.I)]
    if not all(clauses):
        raise ServiceError(
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
            details=[
                ("QueryParameterName", "$filter"),
                ("QueryParameterValue", text),
                (
                    "Reason",
                    "supported: id|state|allocationState|vmSize eq|ne '<value>' and "
                    "startswith(id, '<prefix>'), joined by 'or'.",
                ),
            ],
        )

    def keep(pool: dict[str, Any]) -> bool:
        for match in clauses:
            assert match is not None
            if match.group("prefix") is not None:
                if str(pool["id"]).lower().startswith(match.group("prefix").lower()):
                    return True
                continue
            field = {"id": "id", "state": "state", "allocationstate": "allocationState", "vmsize": "vmSize"}[
                match.group("field").lower()
            ]
            equal = str(pool.get(field, "")).lower() == match.group("value").lower()
            if equal == (match.group("op").lower() == "eq"):
                return True
        return False

    return keep


def select(body: dict[str, Any], request: web.Request) -> dict[str, Any]:
    fields = request.query.get("$select")
    if not fields:
        return body
    wanted = {f.strip() for f in fields.split(",")}
    return {k: v for k, v in body.items() if k in wanted}


SUPPORTED_IMAGES = (
    ("batch.node.ubuntu 24.04", "canonical", "ubuntu-24_04-lts", "server", "linux"),
    ("batch.node.ubuntu 22.04", "canonical", "0001-com-ubuntu-server-jammy", "22_04-lts", "linux"),
    ("batch.node.el 9", "almalinux", "almalinux-x86_64", "9-gen2", "linux"),
    ("batch.node.windows amd64", "microsoftwindowsserver", "windowsserver", "2022-datacenter", "windows"),
    ("batch.node.windows amd64", "microsoftwindowsserver", "windowsserver", "2025-datacenter", "windows"),
)
"""A few images the service lists as verified, for `az batch pool supported-images list` (the
emulator accepts any image; these are what a person picking one would start from)."""
_IMAGE_CLAUSE = re.compile(r"^\(?\s*(osType|verificationType)\s+eq\s+'([^']*)'\s*\)?$", re.IGNORECASE)


def supported_images(text: str | None) -> list[dict[str, Any]]:
    images = [
        {
            "nodeAgentSKUId": sku,
            "imageReference": {"publisher": publisher, "offer": offer, "sku": image_sku, "version": "latest"},
            "verificationType": "verified",
            "osType": os_type,
        }
        for sku, publisher, offer, image_sku, os_type in SUPPORTED_IMAGES
    ]
    if not text:
        return images
    clauses = [_IMAGE_CLAUSE.match(c) for c in re.split(r"\s+and\s+", text.strip(), flags=re.IGNORECASE)]
    if not all(clauses):
        raise ServiceError(
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
            details=[
                ("QueryParameterName", "$filter"),
                ("QueryParameterValue", text),
                ("Reason", "supported: osType|verificationType eq '<value>', joined by 'and'."),
            ],
        )
    return [
        i
        for i in images
        if all(str(i[m.group(1)]).lower() == m.group(2).lower() for m in clauses if m is not None)
    ]


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = BatchPoolsApi(emu)
    router.add_resource(PREFIX + "/supportedimages", name="batch.supportedImages").add_route(
        "GET", api.list_supported_images
    )
    pools = router.add_resource(PREFIX + "/pools", name="batch.pools")
    pools.add_route("GET", api.list_pools)
    pools.add_route("POST", api.create_pool)
    pool = router.add_resource(PREFIX + "/pools/{pool}", name="batch.pool")
    pool.add_route("GET", api.get_pool)
    pool.add_route("HEAD", api.pool_exists)
    pool.add_route("PATCH", api.patch_pool)
    pool.add_route("DELETE", api.delete_pool)
    for action, handler in (
        ("updateproperties", api.update_properties),
        ("resize", api.resize),
        ("stopresize", api.stop_resize),
        ("enableautoscale", api.enable_autoscale),
        ("disableautoscale", api.disable_autoscale),
        ("evaluateautoscale", api.evaluate_autoscale),
        ("removenodes", api.remove_nodes),
    ):
        router.add_resource(f"{PREFIX}/pools/{{pool}}/{action}", name=f"batch.pool.{action}").add_route(
            "POST", handler
        )


def account_of(store: Store, request: web.Request) -> Account:
    """The data plane's account, by the name in its URL (404 AccountNotFound as the service says)."""
    account = store.account_by_name(request.match_info["account"])
    if account is None:
        raise ServiceError(404, "AccountNotFound", "The specified account does not exist.")
    return account


class BatchPoolsApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.store = emu.store

    def _account(self, request: web.Request) -> Account:
        return account_of(self.store, request)

    def _endpoint(self, account: Account) -> str:
        return f"https://{self.emu.account_endpoint(account.name)}"

    def _headers(self, pool: Pool, account: Account) -> dict[str, str]:
        return {
            "ETag": batch_etag(pool),
            "Last-Modified": _http_date(iso(pool.last_modified)),
            "DataServiceId": f"{self._endpoint(account)}/pools/{pool.name}",
            "DataServiceVersion": "3.0",
        }

    def _empty(self, status: int, pool: Pool, account: Account) -> web.Response:
        return web.Response(status=status, headers=self._headers(pool, account))

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        try:
            body = json.loads(await request.text() or "{}")
        except ValueError as exc:
            raise bad_body(f"the body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise bad_body("the body must be a JSON object")
        return body

    def _pool(self, request: web.Request) -> tuple[Account, Pool]:
        account = self._account(request)
        return account, self.store.pool(account, request.match_info["pool"], self.emu.clock.now())

    # --- reads ------------------------------------------------------------------------------------
    async def list_supported_images(self, request: web.Request) -> web.Response:
        endpoint = self._endpoint(self._account(request))
        images = supported_images(request.query.get("$filter"))
        return _batch_json({"odata.metadata": f"{endpoint}/$metadata#supportedimages", "value": images})

    async def list_pools(self, request: web.Request) -> web.Response:
        account = self._account(request)
        now = self.emu.clock.now()
        endpoint = self._endpoint(account)
        keep = pool_filter(request.query.get("$filter"))
        version = request.query.get("api-version")
        pools = sorted(self.store.list_pools(account, now), key=lambda p: p.name.lower())
        shaped = [b for b in (batch_pool(p, now, endpoint, version) for p in pools) if keep(b)]
        size = page_size(request.query.get("maxresults"))
        start = int(request.query.get("$skiptoken", "0") or 0)
        body: dict[str, Any] = {
            "odata.metadata": f"{endpoint}/$metadata#pools",
            "value": [select(b, request) for b in shaped[start : start + size]],
        }
        if start + size < len(shaped):
            query = {k: v for k, v in request.query.items() if k != "$skiptoken"}
            query["$skiptoken"] = str(start + size)
            encoded = "&".join(f"{quote(k, safe='$')}={quote(v, safe='')}" for k, v in query.items())
            body["odata.nextLink"] = f"{self.emu.base_url}{request.path}?{encoded}"
        return _batch_json(body)

    async def get_pool(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        endpoint = self._endpoint(account)
        body = batch_pool(pool, self.emu.clock.now(), endpoint, request.query.get("api-version"))
        shaped = {"odata.metadata": f"{endpoint}/$metadata#pools/@Element", **body}
        return _batch_json(select(shaped, request), headers=self._headers(pool, account))

    async def pool_exists(self, request: web.Request) -> web.Response:
        account = self._account(request)
        pool = self.store.find_pool(account, request.match_info["pool"], self.emu.clock.now())
        if pool is None:
            return web.Response(status=404)
        return self._empty(200, pool, account)

    # --- writes -----------------------------------------------------------------------------------
    async def create_pool(self, request: web.Request) -> web.Response:
        account = self._account(request)
        body = await self._body(request)
        name = body.get("id")
        if not name or not isinstance(name, str):
            raise missing_property("id")
        existing = self.store.find_pool(account, name, self.emu.clock.now())
        if existing is not None:
            if existing.deleting:
                raise ServiceError(
                    409,
                    "PoolBeingDeleted",
                    "The specified pool has been marked for deletion and is being reclaimed.",
                )
            raise ServiceError(409, "PoolExists", "The specified pool already exists.")
        if "virtualMachineConfiguration" not in body and "cloudServiceConfiguration" in body:
            raise ServiceError(
                400,
                "InvalidPropertyValue",
                "Cloud Services Configuration pools are retired; use virtualMachineConfiguration.",
                details=[("PropertyName", "cloudServiceConfiguration")],
            )
        props = arm_properties(body, account, scale=True)
        pool, _ = self.store.put_pool(account, name, {"properties": props}, if_match=None, if_none_match="*")
        return self._empty(201, pool, account)

    async def patch_pool(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        body = await self._body(request)
        props = arm_properties(body, account, scale=False)  # scale changes are resize / enableautoscale
        pool = self.store.patch_pool(
            account,
            pool.name,
            {"properties": props},
            if_match=_arm_if_match(pool, request.headers.get("If-Match")),
        )
        return self._empty(200, pool, account)

    async def update_properties(self, request: web.Request) -> web.Response:
        """Replace startTask, certificate and application package references and metadata; what the
        body leaves out is removed (the update-properties semantics)."""
        account, pool = self._pool(request)
        body = await self._body(request)
        for required in ("applicationPackageReferences", "metadata"):
            if required not in body:
                raise missing_property(required)
        if (
            "certificateReferences" not in body
            and batch_api_version(request.query.get("api-version")) < "2025-06-01"
        ):
            raise missing_property("certificateReferences")
        replaced = copy.deepcopy(pool.body)
        props = replaced.setdefault("properties", {})
        for key in ("startTask", "certificates", "applicationPackages", "metadata"):
            props.pop(key, None)
        props.update(arm_properties(body, account, scale=False))
        pool, _ = self.store.put_pool(
            account,
            pool.name,
            replaced,
            if_match=_arm_if_match(pool, request.headers.get("If-Match")) or pool.etag,
            if_none_match=None,
        )
        return self._empty(204, pool, account)

    async def resize(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        body = await self._body(request)
        if pool.deleting:
            raise ServiceError(
                409,
                "PoolBeingDeleted",
                "The specified pool has been marked for deletion and is being reclaimed.",
            )
        if "autoScale" in (pool.properties.get("scaleSettings") or {}):
            raise ServiceError(
                409,
                "OperationNotValidOnPool",
                "The specified operation is not valid on the pool: it has automatic scaling enabled "
                "(disable autoscale first).",
            )
        fixed: dict[str, Any] = {
            "targetDedicatedNodes": _count(body.get("targetDedicatedNodes")),
            "targetLowPriorityNodes": _count(body.get("targetLowPriorityNodes")),
        }
        if body.get("resizeTimeout"):
            fixed["resizeTimeout"] = body["resizeTimeout"]
        if body.get("nodeDeallocationOption"):
            fixed["nodeDeallocationOption"] = _TO_ARM["nodeDeallocationOption"].get(
                str(body["nodeDeallocationOption"]).lower(), body["nodeDeallocationOption"]
            )
        pool = self._patch_scale(request, account, pool, {"fixedScale": fixed})
        return self._empty(202, pool, account)

    def _patch_scale(self, request: web.Request, account: Account, pool: Pool, scale: dict[str, Any]) -> Pool:
        """A data-plane scale call is the management PATCH of `scaleSettings` (the service's rules apply)."""
        return self.store.patch_pool(
            account,
            pool.name,
            {"properties": {"scaleSettings": scale}},
            if_match=_arm_if_match(pool, request.headers.get("If-Match")),
        )

    async def stop_resize(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        pool = self.store.stop_resize(account, pool.name)
        return self._empty(202, pool, account)

    async def enable_autoscale(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        body = await self._body(request)
        auto: dict[str, Any] = {}
        current = (pool.properties.get("scaleSettings") or {}).get("autoScale") or {}
        formula = body.get("autoScaleFormula") or current.get("formula")
        if not formula:
            raise missing_property("autoScaleFormula")
        auto["formula"] = formula
        interval = body.get("autoScaleEvaluationInterval") or current.get("evaluationInterval")
        if interval:
            auto["evaluationInterval"] = interval
        pool = self._patch_scale(request, account, pool, {"autoScale": auto})
        return self._empty(200, pool, account)

    async def disable_autoscale(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        pool = self.store.disable_autoscale(account, pool.name)
        return self._empty(200, pool, account)

    async def evaluate_autoscale(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        body = await self._body(request)
        formula = body.get("autoScaleFormula")
        if not formula:
            raise missing_property("autoScaleFormula")
        if "autoScale" not in (pool.properties.get("scaleSettings") or {}):
            raise ServiceError(
                409,
                "OperationNotValidOnPool",
                "The specified operation is not valid on the pool: automatic scaling is not enabled.",
            )
        results = evaluate_formula(str(formula))[2]
        run = {"timestamp": iso(self.emu.clock.now()), "results": results}
        endpoint = self._endpoint(account)
        return _batch_json(
            {
                "odata.metadata": f"{endpoint}/$metadata#{AUTOSCALE_RUN_ENTITY}",
                **run,
            }
        )

    async def remove_nodes(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)
        body = await self._body(request)
        nodes = body.get("nodeList")
        if not isinstance(nodes, list) or not nodes:
            raise missing_property("nodeList")
        if len(nodes) > 100:
            raise ServiceError(
                400,
                "InvalidPropertyValue",
                "The value provided for one of the properties in the request body is invalid.",
                details=[("PropertyName", "nodeList"), ("Reason", "at most 100 nodes per request")],
            )
        option = _TO_ARM["nodeDeallocationOption"].get(
            str(body.get("nodeDeallocationOption", "requeue")).lower()
        )
        if option is None:
            raise ServiceError(
                400,
                "InvalidPropertyValue",
                "The value provided for one of the properties in the request body is invalid.",
                details=[("PropertyName", "nodeDeallocationOption")],
            )
        timeout = body.get("resizeTimeout")
        if timeout is not None:
            # BatchNodeRemoveOptions: "The minimum value is 5 minutes ... the HTTP status code is 400".
            try:
                too_short = parse_duration(str(timeout)) < 300.0
            except ValueError:
                too_short = True
            if too_short:
                raise ServiceError(
                    400,
                    "InvalidPropertyValue",
                    "The value provided for one of the properties in the request body is invalid.",
                    details=[
                        ("PropertyName", "resizeTimeout"),
                        ("PropertyValue", str(timeout)),
                        ("Reason", "an ISO 8601 duration of at least 5 minutes"),
                    ],
                )
        pool = self.store.remove_nodes(
            account,
            pool.name,
            [str(n) for n in nodes],
            deallocation=option,
            resize_timeout=body.get("resizeTimeout"),
        )
        return self._empty(202, pool, account)

    async def delete_pool(self, request: web.Request) -> web.Response:
        account, pool = self._pool(request)  # the data plane answers 404 PoolNotFound for a missing pool
        deleting = self.store.delete_pool(account, pool.name)
        assert deleting is not None
        return web.Response(status=202, headers={"DataServiceVersion": "3.0"})


def page_size(value: str | None, default: int = DEFAULT_PAGE) -> int:
    """A data-plane list's `maxresults` (1 to 1000), or the list's default page size."""
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise ServiceError(
            400,
            "InvalidQueryParameterValue",
            "Value for one of the query parameters specified in the request URI is invalid.",
            details=[
                ("QueryParameterName", "maxresults"),
                ("QueryParameterValue", value),
                ("Reason", "1 to 1000"),
            ],
        )
    return int(value)


def _batch_json(body: Any, *, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        text=dumps(body),
        headers={"Content-Type": BATCH_JSON_TYPE, "DataServiceVersion": "3.0", **(headers or {})},
    )


def _http_date(iso_time: str) -> str:
    moment = dt.datetime.fromisoformat(iso_time.replace("Z", "+00:00"))
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")
