"""The examples are complete, self-contained manifests: every Secret they reference is in the same file."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel
from seed_bodies import REPO

from azbatch_operator.models import BatchPool, SecretRef, load_manifests, secrets_from_documents

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


def secret_refs(value: Any) -> Iterator[SecretRef]:
    if isinstance(value, SecretRef):
        yield value
    elif isinstance(value, BaseModel):
        for name in type(value).model_fields:
            yield from secret_refs(getattr(value, name))
    elif isinstance(value, list | tuple):
        for item in value:
            yield from secret_refs(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from secret_refs(item)


@pytest.mark.parametrize("path", EXAMPLES, ids=[path.stem for path in EXAMPLES])
def test_every_referenced_secret_key_is_in_the_file(path: Path) -> None:
    manifests = load_manifests(path.read_text())
    values = secrets_from_documents(manifests.others)
    (document,) = manifests.pools
    pool = BatchPool.model_validate(document)
    for ref in secret_refs(pool.spec):
        assert (ref.secret_key_ref.name, ref.secret_key_ref.key) in values


def test_the_autoscale_example_shows_secret_references() -> None:
    manifests = load_manifests((REPO / "examples" / "autoscale.yaml").read_text())
    pool = BatchPool.model_validate(manifests.pools[0])
    assert len(list(secret_refs(pool.spec))) == 2
    assert pool.spec.scale_settings is not None and pool.spec.scale_settings.auto_scale is not None
