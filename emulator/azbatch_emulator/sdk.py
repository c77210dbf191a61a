"""The unmodified Azure SDK credential a client of the emulator builds from its `info` document:
the client-secret flow against the emulator's Entra endpoint, trusting its private CA."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from azure.identity import ClientSecretCredential
from azure.identity.aio import ClientSecretCredential as AsyncClientSecretCredential


def _arguments(info: Mapping[str, Any]) -> tuple[tuple[str, str, str], dict[str, Any]]:
    positional = (info["tenant_id"], info["client_id"], info["client_secret"])
    return positional, {
        "authority": info["authority_host"],
        "disable_instance_discovery": True,  # no public cloud to ask about the authority
        "connection_verify": info["ca_cert"],
    }


def secret_credential(info: Mapping[str, Any]) -> ClientSecretCredential:
    positional, options = _arguments(info)
    return ClientSecretCredential(*positional, **options)


def async_secret_credential(info: Mapping[str, Any]) -> AsyncClientSecretCredential:
    positional, options = _arguments(info)
    return AsyncClientSecretCredential(*positional, **options)
