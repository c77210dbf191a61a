"""A kubeconfig that kubectl, kopf (``KUBECONFIG``) and the ``kubernetes`` client accept."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import yaml

CONTEXT_NAME = "azbatch-kubemock"


def kubeconfig_document(*, server: str, token: str | None, namespace: str = "default") -> dict[str, Any]:
    user: dict[str, Any] = {"token": token} if token else {}
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": CONTEXT_NAME, "cluster": {"server": server}}],
        "users": [{"name": CONTEXT_NAME, "user": user}],
        "contexts": [
            {
                "name": CONTEXT_NAME,
                "context": {"cluster": CONTEXT_NAME, "user": CONTEXT_NAME, "namespace": namespace},
            }
        ],
        "current-context": CONTEXT_NAME,
        "preferences": {},
    }


def write_kubeconfig(
    path: str | pathlib.Path, *, server: str, token: str | None, namespace: str = "default"
) -> pathlib.Path:
    """Write the kubeconfig (mode 0600, as it may hold a token) and return its path."""
    target = pathlib.Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(
        kubeconfig_document(server=server, token=token, namespace=namespace), sort_keys=False
    )
    descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as stream:
        stream.write(text)
    return target
