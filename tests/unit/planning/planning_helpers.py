"""Helpers shared by the planning tests: render a spec document, echo it from Azure, plan.

A plain module (not conftest.py) so test files can import it by a name no other folder uses.
"""

from __future__ import annotations

from typing import Any

from strategies import DIGEST_KEY, OWNER, azure_echo

from azbatch_operator import planning, rendering
from azbatch_operator.models import Policy

RECREATE = Policy()
SCALE_TO_ZERO = Policy(update_strategy="ScaleToZero")


def render(spec: dict[str, Any], secrets: dict[tuple[str, str], str] | None = None) -> rendering.DesiredPool:
    return rendering.render_pool(spec, secrets=secrets or {}, owner=OWNER, digest_key=DIGEST_KEY)


def observe(desired: rendering.DesiredPool, **echo: Any) -> rendering.ObservedPool:
    return rendering.observe_pool(azure_echo(desired.body, **echo))


def types(plan: planning.Plan) -> list[str]:
    return [action.type.value for action in plan.actions]
