"""Rendering (pure): spec -> ARM pool body, and ARM pool JSON -> normalised observed state.

Both directions end in the same normal form (``normalise.normalise_pool``), so server-side
defaults, casing, ordering and read-only fields never look like a change.
"""

from azbatch_operator.models import SecretKeyRef
from azbatch_operator.rendering.desired import (
    ADOPTED_METADATA,
    OWNER_METADATA,
    DesiredPool,
    render_pool,
    secret_refs,
    spec_document,
)
from azbatch_operator.rendering.normalise import (
    EXTENSIONS_PATH,
    RESERVED_METADATA_PREFIX,
    normalise_pool,
)
from azbatch_operator.rendering.observed import ObservedPool, ResizeError, observe_pool
from azbatch_operator.rendering.secrets import (
    DIGEST_PREFIX,
    SecretEntity,
    SecretValueError,
)

__all__ = [
    "ADOPTED_METADATA",
    "DIGEST_PREFIX",
    "EXTENSIONS_PATH",
    "OWNER_METADATA",
    "RESERVED_METADATA_PREFIX",
    "DesiredPool",
    "ObservedPool",
    "ResizeError",
    "SecretEntity",
    "SecretKeyRef",
    "SecretValueError",
    "normalise_pool",
    "observe_pool",
    "render_pool",
    "secret_refs",
    "spec_document",
]
