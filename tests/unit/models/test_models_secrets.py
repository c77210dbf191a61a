"""Secrets enter a spec only as Secret references: every secret-bearing field, one shared type."""

from __future__ import annotations

import re
import types
import typing
from typing import Any

import pytest
from pydantic import BaseModel, ValidationError

import azbatch_operator.models as models
from azbatch_operator.models import BatchPoolSpec, SecretRef, UserAccount, VMExtension
from azbatch_operator.models.secrets import INLINE_SECRET_MESSAGE

SECRET_NAMES = re.compile(r"(password|accountkey|saskey|privatekey|protectedsettings|secret|token)$", re.I)
REF = {"secretKeyRef": {"name": "pool-secrets", "key": "value"}}


def _walk(model: type[BaseModel], path: str, seen: set[type[BaseModel]]) -> list[tuple[str, Any]]:
    """(path, annotation) of every field reachable from `model`."""
    found = []
    seen = seen | {model}
    for key, field in model.model_fields.items():
        name = f"{path}.{field.alias or key}"
        found.append((name, field.annotation))
        for inner in _models_in(field.annotation):
            if inner not in seen:
                found.extend(_walk(inner, name, seen))
    return found


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, list, dict, typing.Annotated):
        return [inner for arg in typing.get_args(annotation) for inner in _models_in(arg)]
    return []


def _is_secret_ref(annotation: Any) -> bool:
    return SecretRef in _models_in(annotation)


FIELDS = _walk(BatchPoolSpec, "spec", set())
SECRET_FIELDS = sorted(path for path, annotation in FIELDS if _is_secret_ref(annotation))


def test_every_secret_bearing_field_is_a_secret_reference() -> None:
    named_like_secrets = sorted(path for path, _ in FIELDS if SECRET_NAMES.search(path.rsplit(".", 1)[-1]))
    assert named_like_secrets == SECRET_FIELDS


def test_the_secret_fields_are_the_ones_azure_never_returns() -> None:
    leaves = sorted({path.rsplit(".", 1)[-1] for path in SECRET_FIELDS})
    assert leaves == ["accountKey", "password", "protectedSettings", "sasKey", "sshPrivateKey"]
    assert (
        len(SECRET_FIELDS) == 9
    )  # two registries, user, ssh key, blob key+SAS, CIFS, Azure Files, extension


@pytest.mark.parametrize("inline", ["hunter2", 42, {"commandToExecute": "echo hi"}, {}, ["x"]])
def test_inline_secret_values_are_refused_with_the_fix(inline: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        UserAccount.model_validate({"name": "batchuser", "password": inline})
    (error,) = caught.value.errors()
    assert error["loc"] == ("password",)
    assert INLINE_SECRET_MESSAGE in error["msg"]
    assert "hunter2" not in str(caught.value.errors(include_input=False))


def test_inline_protected_settings_are_refused() -> None:
    with pytest.raises(ValidationError, match="inline secret values are refused"):
        VMExtension.model_validate(
            {"name": "x", "publisher": "p", "type": "t", "protectedSettings": {"commandToExecute": "ls"}}
        )


def test_a_secret_reference_is_accepted_and_dumps_as_written() -> None:
    extension = VMExtension.model_validate(
        {"name": "x", "publisher": "p", "type": "t", "protectedSettings": REF}
    )
    assert extension.protected_settings is not None
    assert extension.protected_settings.secret_key_ref.name == "pool-secrets"
    assert extension.model_dump(exclude_none=True)["protectedSettings"] == REF


def test_a_secret_reference_with_extra_fields_names_them() -> None:
    with pytest.raises(ValidationError) as caught:
        SecretRef.model_validate({"secretKeyRef": {"name": "s", "key": "k"}, "value": "inline"})
    assert [error["loc"] for error in caught.value.errors()] == [("value",)]


@pytest.mark.parametrize(
    ("selector", "field"),
    [
        ({"name": "Bad_Name", "key": "k"}, "name"),
        ({"name": "s", "key": "bad key"}, "key"),
        ({"name": "s"}, "key"),
    ],
)
def test_secret_selectors_follow_kubernetes_names(selector: dict[str, str], field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SecretRef.model_validate({"secretKeyRef": selector})
    assert caught.value.errors()[0]["loc"] == ("secretKeyRef", field)


def test_secret_key_ref_is_exported_for_the_renderer() -> None:
    assert models.SecretKeyRef is models.SecretKeySelector
