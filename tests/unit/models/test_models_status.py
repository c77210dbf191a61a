"""Status models dump to the camelCase, kstatus-shaped JSON the operator patches into `status`."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from azbatch_operator.models import (
    BatchPoolStatus,
    Condition,
    ExtensionFailure,
    ExtensionStatus,
    PoolStatus,
    RecreateStatus,
)


def _status() -> BatchPoolStatus:
    return BatchPoolStatus(
        observed_generation=4,
        conditions=[
            Condition(
                type="Ready", status="True", reason="Steady", last_transition_time="2026-11-23T01:00:00Z"
            )
        ],
        pool=PoolStatus(id="/subscriptions/x/pools/p", current_dedicated_nodes=2, target_dedicated_nodes=2),
        extensions=[
            ExtensionStatus(
                name="secretext",
                type="KeyVaultForLinux",
                failures=[
                    ExtensionFailure(node_id="tvm-1", code="ProvisioningState/failed/0", level="Error")
                ],
            )
        ],
        recreate=RecreateStatus(
            phase="Draining", reason="extension secretext changed", fields=["extensions"]
        ),
    )


def test_dump_is_camel_case_without_nones() -> None:
    assert _status().model_dump(by_alias=True, exclude_none=True) == {
        "observedGeneration": 4,
        "conditions": [
            {
                "type": "Ready",
                "status": "True",
                "reason": "Steady",
                "message": "",
                "lastTransitionTime": "2026-11-23T01:00:00Z",
            }
        ],
        "pool": {"id": "/subscriptions/x/pools/p", "currentDedicatedNodes": 2, "targetDedicatedNodes": 2},
        "extensions": [
            {
                "name": "secretext",
                "type": "KeyVaultForLinux",
                "nodes": {"succeeded": 0, "failed": 0, "transitioning": 0, "total": 0},
                "failures": [{"nodeId": "tvm-1", "code": "ProvisioningState/failed/0", "level": "Error"}],
            }
        ],
        "recreate": {"phase": "Draining", "reason": "extension secretext changed", "fields": ["extensions"]},
    }


def test_a_status_read_back_from_the_cluster_loads_even_with_foreign_fields() -> None:
    stored = _status().model_dump(exclude_none=True) | {"kopf": {"progress": {}}}
    assert BatchPoolStatus.model_validate(stored) == _status()


def test_the_failure_sample_is_bounded() -> None:
    failures = [ExtensionFailure(node_id=f"tvm-{index}") for index in range(11)]
    with pytest.raises(ValidationError, match="at most 10"):
        ExtensionStatus(name="x", failures=failures)


def test_condition_status_and_recreate_phase_are_closed_sets() -> None:
    with pytest.raises(ValidationError):
        Condition.model_validate({"type": "Ready", "status": "Yes", "reason": "R", "lastTransitionTime": "t"})
    with pytest.raises(ValidationError):
        RecreateStatus.model_validate({"phase": "Waiting"})
