"""What every test folder shares: Hypothesis runs the same examples on every run.

The default profile, `ci`, is derandomized (examples are derived from each test, not from a random
seed), keeps no example database (nothing carried over from an earlier run or another machine)
and has no deadline (two shared cores make timings noisy), so a run that passes here passes in CI.
`HYPOTHESIS_PROFILE=explore` searches with fresh random seeds and more examples; a failure it finds
belongs in the test as an explicit `@example`.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

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
