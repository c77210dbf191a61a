"""Azure call metrics use low-cardinality operation names, never resource names."""

from azbatch_operator.cloud.telemetry import operation_name

ACCOUNT = "subscriptions/s/resourceGroups/rg/providers/Microsoft.Batch/batchAccounts/acct"


def test_management_operations() -> None:
    assert operation_name("GET", f"{ACCOUNT}/pools/my-pool") == "GET pool"
    assert operation_name("GET", f"{ACCOUNT}/pools") == "GET pools"
    assert operation_name("POST", f"{ACCOUNT}/pools/p/stopResize") == "POST stopResize"
    assert operation_name("GET", f"{ACCOUNT}/poolOperationResults/delete-123") == "GET operation"


def test_data_plane_operations() -> None:
    assert operation_name("GET", "pools/p/nodes") == "GET nodes"
    assert operation_name("GET", "pools/p/nodes/n1/extensions") == "GET extensions"
    assert operation_name("GET", "nodecounts") == "GET nodecounts"
