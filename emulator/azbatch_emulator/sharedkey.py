"""Shared Key authentication on the Batch data plane (`Authorization: SharedKey <account>:<mac>`).

The account's keys are those `listKeys` returns. The signature is checked as the Batch service
documents it: an HMAC-SHA256, keyed with the base64-decoded account key, over the verb, the
standard headers (Content-Encoding ... Range, Content-Length `0` for a bodiless write), the `ocp-*`
headers sorted by name, `/<account><path>` and the query parameters sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING
from urllib.parse import parse_qs

from aiohttp import web

from azbatch_emulator.errors import ServiceError
from azbatch_emulator.mgmt_api import account_keys

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator

SIGNED_HEADERS = (
    "content-encoding",
    "content-language",
    "content-length",
    "content-md5",
    "content-type",
    "date",
    "if-modified-since",
    "if-match",
    "if-none-match",
    "if-unmodified-since",
    "range",
)


def is_shared_key(request: web.Request) -> bool:
    return request.headers.get("Authorization", "").startswith("SharedKey ")


def string_to_sign(request: web.Request, account_name: str) -> str:
    headers = {k.lower(): v for k, v in request.headers.items() if v}
    if request.method not in ("GET", "HEAD"):
        headers.setdefault("content-length", "0")
    lines = [request.method, *(headers.get(h, "") for h in SIGNED_HEADERS)]
    text = "\n".join(lines) + "\n"
    for name, value in sorted((k, v) for k, v in headers.items() if "ocp-" in k):
        text += f"{name}:{value}\n"
    text += f"/{account_name}{request.raw_path.partition('?')[0]}"
    query = parse_qs(request.query_string)
    for name in sorted(query):
        if query[name][0]:
            text += f"\n{name}:{query[name][0]}"
    return text


def _refused(detail: str) -> ServiceError:
    return ServiceError(
        403,
        "AuthenticationFailed",
        "Server failed to authenticate the request. Make sure the value of Authorization header is "
        "formed correctly including the signature.",
        details=[("AuthenticationErrorDetail", detail)],
    )


def verify(request: web.Request, emu: Emulator) -> None:
    """Accept a request signed with one of its account's keys, else 403 AuthenticationFailed."""
    credential = request.headers["Authorization"].removeprefix("SharedKey ").strip()
    name, _, mac = credential.rpartition(":")
    target = request.match_info.get("account", name)
    account = emu.store.account_by_name(name)
    if account is None or target.lower() != name.lower():
        raise _refused(f"The account '{name}' in the Authorization header is not the account addressed.")
    expected = string_to_sign(request, name).encode()
    keys = account_keys(emu, account)
    for key in (keys["primary"], keys["secondary"]):
        digest = hmac.new(base64.b64decode(key), expected, hashlib.sha256).digest()
        if hmac.compare_digest(base64.b64encode(digest).decode(), mac):
            return
    raise _refused(
        f"The MAC signature found in the HTTP request '{mac}' is not the same as any computed signature."
    )
