"""The seed request bodies and ARM wire examples (copies in fixtures/), and their translation to a spec."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[3]
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ACCOUNT = {
    "subscriptionId": "12345678-1234-1234-1234-123456789012",
    "resourceGroup": "default-azurebatch-japaneast",
    "accountName": "sampleacct",
}

# The Windows body in seed 001 has `{"https://...authsecreat" "certificateStoreLocation": ...}`: a bare string
# inside an object. The Key Vault extension for Windows documents the object form with a `url` key.
_MALFORMED_CERTIFICATE = re.compile(r'\{\s*("https://[^"]+")\s*\n(\s*)"certificateStoreLocation"')
_REPAIRED_CERTIFICATE = r'{"url": \1, "certificateStoreName": "MY",\n\2"certificateStoreLocation"'


def seed_bodies_raw() -> dict[str, str]:
    """The two request bodies of seed 001 as printed (Windows still malformed)."""
    return {
        "linux": (FIXTURES / "seed-001-linux-body.json").read_text(encoding="utf-8").strip(),
        "windows": (FIXTURES / "seed-001-windows-body.txt").read_text(encoding="utf-8").strip(),
    }


def repair_windows_body(text: str) -> str:
    return _MALFORMED_CERTIFICATE.sub(_REPAIRED_CERTIFICATE, text)


def mgmt_create_bodies() -> dict[str, dict[str, Any]]:
    return {
        path.stem: json.loads(path.read_text())["parameters"]["parameters"]
        for path in sorted(FIXTURES.glob("PoolCreate_*.json"))
    }


def arm_body_to_spec(body: dict[str, Any], account: dict[str, str] = ACCOUNT) -> dict[str, Any]:
    """The documented translation: properties.* -> spec.*, identity -> spec.identity, plus spec.account.

    An empty `protectedSettings: {}` (no protected settings) is left out: the spec only takes Secret refs.
    """
    spec: dict[str, Any] = json.loads(json.dumps(body["properties"]))
    vmc = spec.get("deploymentConfiguration", {}).get("virtualMachineConfiguration", {})
    for extension in vmc.get("extensions", []):
        if extension.get("protectedSettings") == {}:
            del extension["protectedSettings"]
    if "identity" in body:
        spec["identity"] = body["identity"]
    spec["account"] = account
    return spec
