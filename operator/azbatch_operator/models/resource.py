"""The whole `BatchPool` resource (apiVersion, kind, metadata, spec) and multi-document manifests."""

from __future__ import annotations

import base64
import binascii
from typing import Any, Literal, NamedTuple

import yaml
from pydantic import BaseModel, ConfigDict, Field

from azbatch_operator.models.base import ArmModel
from azbatch_operator.models.spec import BatchPoolSpec

GROUP = "azbatch.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "BatchPool"
PLURAL = "batchpools"
SINGULAR = "batchpool"
SHORT_NAMES = ("bp",)


class ObjectMeta(BaseModel):
    """The parts of Kubernetes metadata the operator reads; the rest (labels, uid, ...) is kept untouched."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str = Field(
        min_length=1, max_length=253, description="The BatchPool name (default Azure pool name)."
    )
    namespace: str | None = Field(default=None, description="The namespace; Secrets are read from it.")
    generation: int | None = Field(default=None, description="Bumped by the API server on every spec change.")


class BatchPool(ArmModel):
    """A BatchPool resource. `status` is carried as-is: parse it with `BatchPoolStatus` when needed."""

    api_version: Literal["azbatch.dev/v1alpha1"] = Field(
        alias="apiVersion", description="azbatch.dev/v1alpha1"
    )
    kind: Literal["BatchPool"] = Field(description="BatchPool")
    metadata: ObjectMeta = Field(description="Standard Kubernetes object metadata.")
    spec: BatchPoolSpec = Field(description="The desired pool.")
    status: dict[str, Any] | None = Field(
        default=None, description="The observed state (not validated here)."
    )

    @property
    def pool_name(self) -> str:
        """The Azure pool name: spec.poolName, or metadata.name when it is not set."""
        return self.spec.pool_name or self.metadata.name


class ManifestError(ValueError):
    """A manifest file that cannot be read as YAML documents; the message says where and what to fix."""


class Manifests(NamedTuple):
    """The documents of a manifest file, split into BatchPools and everything else (Secrets, ...)."""

    pools: list[dict[str, Any]]
    others: list[dict[str, Any]]


def load_manifests(text: str) -> Manifests:
    """Split multi-document YAML into BatchPool documents (still unvalidated dicts) and the other documents.

    Empty documents are skipped. Raises ManifestError for YAML that does not parse or a document that is not a
    mapping.
    """
    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ManifestError(f"not valid YAML{where}: {problem}: fix the syntax there") from None
    pools: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for index, document in enumerate(documents):
        if document is None:
            continue
        if not isinstance(document, dict):
            raise ManifestError(
                f"document {index + 1} is a {type(document).__name__}, not a Kubernetes object: "
                "each YAML document must be a mapping with apiVersion, kind, metadata"
            )
        (pools if document.get("kind") == KIND else others).append(document)
    return Manifests(pools=pools, others=others)


def secrets_from_documents(documents: list[dict[str, Any]]) -> dict[tuple[str, str], str]:
    """Map (secret name, key) -> value for the v1 Secret documents among `documents` (data and stringData)."""
    values: dict[tuple[str, str], str] = {}
    for document in documents:
        if document.get("kind") != "Secret" or document.get("apiVersion") != "v1":
            continue
        name = str((document.get("metadata") or {}).get("name", ""))
        for key, encoded in (document.get("data") or {}).items():
            try:
                values[(name, str(key))] = base64.b64decode(str(encoded), validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise ManifestError(
                    f"Secret {name!r} key {key!r}: data values must be base64 of UTF-8 text; "
                    "use stringData for plain text"
                ) from None
        for key, value in (document.get("stringData") or {}).items():
            values[(name, str(key))] = str(value)
    return values
