"""The Azure credential chain: workload identity first (AKS), then client secret, then managed identity.

Everything comes from the azure-identity environment variables, so the same code runs in AKS, on
a laptop and against the local emulator (whose `azbatch-emulator env` prints those variables).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import urlparse

from azure.core.credentials_async import AsyncTokenCredential
from azure.identity.aio import (
    ChainedTokenCredential,
    ClientSecretCredential,
    ManagedIdentityCredential,
    WorkloadIdentityCredential,
)

from azbatch_operator.cloud.clients import transport_options

# Authorities whose instance discovery azure-identity knows; any other authority (a private
# cloud, the local emulator) must skip discovery or MSAL calls the public discovery endpoint.
_KNOWN_AUTHORITIES = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.chinacloudapi.cn",
)


def build_credential(env: Mapping[str, str] | None = None) -> AsyncTokenCredential:
    """One chained credential for both planes; raises ValueError when nothing is configured."""
    env = os.environ if env is None else env
    tenant = env.get("AZURE_TENANT_ID", "")
    client = env.get("AZURE_CLIENT_ID", "")
    authority = env.get("AZURE_AUTHORITY_HOST") or None
    discovery_off = authority is not None and urlparse(authority).hostname not in _KNOWN_AUTHORITIES
    tls = transport_options(env)
    chain: list[AsyncTokenCredential] = []
    token_file = env.get("AZURE_FEDERATED_TOKEN_FILE")
    if token_file and tenant and client:
        chain.append(
            WorkloadIdentityCredential(
                tenant_id=tenant,
                client_id=client,
                token_file_path=token_file,
                authority=authority,
                disable_instance_discovery=discovery_off,
                **tls,
            )
        )
    secret = env.get("AZURE_CLIENT_SECRET")
    if secret and tenant and client:
        chain.append(
            ClientSecretCredential(
                tenant,
                client,
                secret,
                authority=authority,
                disable_instance_discovery=discovery_off,
                **tls,
            )
        )
    if not chain or env.get("AZURE_USE_MANAGED_IDENTITY", "").lower() in ("1", "true", "yes"):
        chain.append(ManagedIdentityCredential(client_id=client or None, **tls))
    return chain[0] if len(chain) == 1 else ChainedTokenCredential(*chain)


def credential_summary(credential: AsyncTokenCredential, env: Mapping[str, str] | None = None) -> str:
    """For messages: which credentials are tried, in order, for which client and tenant (no secrets)."""
    env = os.environ if env is None else env
    members = getattr(credential, "credentials", None) or (credential,)
    names = ", ".join(type(member).__name__ for member in members)
    client = env.get("AZURE_CLIENT_ID") or "(no AZURE_CLIENT_ID)"
    tenant = env.get("AZURE_TENANT_ID") or "(no AZURE_TENANT_ID)"
    return f"{names} for client {client} in tenant {tenant}"
