"""The real Azure CLI (`azure-cli` from PyPI, unmodified, in its own virtualenv) against the emulator.

Install it with `make azcli` (creates `.venv-azcli`); run with `make azcli-test` or
`pytest -m azcli tests/clients`. `AZ_CLI` may point at another `az`. Each session gets its own
AZURE_CONFIG_DIR and its own emulator process; nothing leaves loopback (a dead proxy catches any
request that would).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
from azcli_helpers import CLOUD, Az, Session, az_binary

from azbatch_emulator import EmulatorProcess


@pytest.fixture(scope="session")
def emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmulatorProcess]:
    with EmulatorProcess(
        state_dir=tmp_path_factory.mktemp("emulator"), time_scale=600.0, extra_args=["--quiet"]
    ) as process:
        yield process


@pytest.fixture(scope="session")
def info(emulator: EmulatorProcess) -> dict[str, Any]:
    return emulator.info


@pytest.fixture(scope="session")
def az(info: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Az:
    config = tmp_path_factory.mktemp("azure-config")
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(config),
        "AZURE_CONFIG_DIR": str(config),
        "REQUESTS_CA_BUNDLE": info["ca_bundle"],
        "AZURE_CORE_COLLECT_TELEMETRY": "false",
        "AZURE_CORE_SURVEY_MESSAGE": "false",
        "AZURE_CORE_NO_COLOR": "true",
        "AZURE_CORE_ONLY_SHOW_ERRORS": "true",
        # Anything not for the emulator goes to a proxy that is not there, and fails at once.
        "HTTPS_PROXY": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
    }
    return Az(az_binary(), env)


@pytest.fixture(scope="session")
def session(az: Az, info: dict[str, Any]) -> Session:
    """The commands of docs/emulator.md's "Azure CLI" section, up to a logged-in service principal."""
    az.run("cloud", "register", "--name", CLOUD, "--endpoint-resource-manager", info["management_endpoint"])
    az.run("cloud", "set", "--name", CLOUD)
    registered = az.json("cloud", "show", "--name", CLOUD)
    az.run("config", "set", "core.instance_discovery=false")
    login = az.json(
        "login",
        "--service-principal",
        "--username",
        info["client_id"],
        "--password",
        info["client_secret"],
        "--tenant",
        info["tenant_id"],
    )
    return Session(registered, login)
