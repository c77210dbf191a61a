"""The BatchPool documents of examples/*.yaml, by file stem."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[3]


def example_pools() -> dict[str, dict[str, Any]]:
    pools = {}
    for path in sorted((REPO / "examples").glob("*.yaml")):
        for document in yaml.safe_load_all(path.read_text()):
            if document and document.get("kind") == "BatchPool":
                pools[path.stem] = document
    return pools
