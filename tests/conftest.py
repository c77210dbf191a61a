"""What every test folder shares: Hypothesis runs the same examples on every run.

The default profile, `ci`, is derandomized (examples are derived from each test, not from a random
seed), keeps no example database (nothing carried over from an earlier run or another machine)
and has no deadline (two shared cores make timings noisy), so a run that passes here passes in CI.
`HYPOTHESIS_PROFILE=explore` searches with fresh random seeds and more examples; a failure it finds
belongs in the test as an explicit `@example`.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

from azbatch_operator.testenv import choose_server, is_real

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("explore", database=None, deadline=None, max_examples=1000)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """On a real API server (KUBEBUILDER_ASSETS or AZBATCH_TEST_KUBECONFIG, docs/real-apiserver.md),
    tests marked `standin_only` are skipped with the reason their marker gives."""
    server = choose_server()
    if not is_real(server):
        return
    for item in items:
        marker = item.get_closest_marker("standin_only")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "needs the stand-in")
            item.add_marker(pytest.mark.skip(reason=f"stand-in only on a {server} server: {why}"))
