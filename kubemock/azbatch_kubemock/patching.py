"""PATCH bodies applied as the API server applies them, by ``Content-Type``.

- ``application/merge-patch+json``: RFC 7386 (``null`` removes a key, lists are replaced whole).
- ``application/json-patch+json``: RFC 6902; a failed ``test`` op (kopf tests
  ``/metadata/resourceVersion`` before its finalizer patches) is a ``PatchTestFailedError``.
- ``application/strategic-merge-patch+json``: only for built-in kinds; approximated by a merge patch
  (lists are replaced, ``$patch`` directives are not understood). Custom resources refuse it, as
  the API server does.
"""

from __future__ import annotations

import copy
from typing import Any

import jsonpatch

MERGE_PATCH = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


class PatchError(ValueError):
    """The patch cannot be applied to the object (422 Invalid)."""


class PatchTestFailedError(PatchError):
    """A JSON-patch ``test`` operation did not hold (kopf's optimistic-concurrency check)."""


class UnsupportedPatchTypeError(ValueError):
    """The ``Content-Type`` of a PATCH is not one the resource accepts (415)."""


def accepted_patch_types(*, custom: bool) -> list[str]:
    base = [JSON_PATCH, MERGE_PATCH]
    return base if custom else [*base, STRATEGIC_MERGE_PATCH]


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch; returns a new value and leaves both arguments untouched."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def apply_patch(current: dict[str, Any], patch: Any, content_type: str, *, custom: bool) -> dict[str, Any]:
    """The object after ``patch``.

    Raises ``UnsupportedPatchTypeError``, ``PatchTestFailedError`` or ``PatchError``.
    """
    media_type = content_type.split(";", maxsplit=1)[0].strip().lower()
    if media_type not in accepted_patch_types(custom=custom):
        raise UnsupportedPatchTypeError(media_type)
    if media_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise PatchError("a JSON patch must be a list of operations")
        try:
            result = jsonpatch.apply_patch(current, patch, in_place=False)
        except jsonpatch.JsonPatchTestFailed as exc:
            raise PatchTestFailedError(str(exc)) from exc
        except (jsonpatch.JsonPatchException, jsonpatch.JsonPointerException, TypeError, KeyError) as exc:
            raise PatchError(str(exc)) from exc
    else:
        if not isinstance(patch, dict):
            raise PatchError("a merge patch must be a JSON object")
        result = merge_patch(current, patch)
    if not isinstance(result, dict):
        raise PatchError("the patch must leave an object")
    return result
