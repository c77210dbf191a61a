"""`azbatch-operator plan -f MANIFEST --observed POOL.json`: output and exit codes users rely on."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from strategies import ACCOUNT, DIGEST_KEY, azure_echo

from azbatch_operator.cli import main
from azbatch_operator.config import DIGEST_KEY_ENV
from azbatch_operator.rendering import render_pool

FIXTURES = Path(__file__).parents[1] / "rendering" / "fixtures"
OWNER = "cluster-uid/default/pool-a"

SPEC: dict[str, Any] = {
    "account": ACCOUNT,
    "vmSize": "Standard_D2s_v3",
    "identity": {"type": "UserAssigned", "userAssignedIdentities": {"/subscriptions/s/rg/uami": {}}},
    "deploymentConfiguration": {
        "virtualMachineConfiguration": {
            "imageReference": {"publisher": "Canonical", "offer": "ubuntu-24_04-lts", "sku": "server"},
            "nodeAgentSkuId": "batch.node.ubuntu 24.04",
            "extensions": [
                {
                    "name": "kvext",
                    "publisher": "Microsoft.Azure.KeyVault",
                    "type": "KeyVaultForLinux",
                    "autoUpgradeMinorVersion": True,
                    "protectedSettings": {"secretKeyRef": {"name": "kv", "key": "protected"}},
                }
            ],
        }
    },
    "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 2}},
}
SECRET_VALUE = '{"token": "t0ps3cret"}'


def _manifest(tmp_path: Path, spec: dict[str, Any] | None = None, *, with_secret: bool = True) -> Path:
    documents: list[dict[str, Any]] = [
        {
            "apiVersion": "azbatch.dev/v1alpha1",
            "kind": "BatchPool",
            "metadata": {"name": "pool-a"},
            "spec": spec or SPEC,
        }
    ]
    if with_secret:
        encoded = base64.b64encode(SECRET_VALUE.encode()).decode()
        documents.append(
            {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kv"}, "data": {"protected": encoded}}
        )
    path = tmp_path / "pool.yaml"
    path.write_text(yaml.safe_dump_all(documents))
    return path


def _observed(tmp_path: Path, spec: dict[str, Any] | None = None, **echo: Any) -> Path:
    desired = render_pool(
        spec or SPEC, secrets={("kv", "protected"): SECRET_VALUE}, owner=OWNER, digest_key=DIGEST_KEY
    )
    path = tmp_path / "observed.json"
    path.write_text(json.dumps(azure_echo(desired.body, **echo)))
    return path


def _key(tmp_path: Path) -> Path:
    path = tmp_path / "digest.key"
    path.write_bytes(DIGEST_KEY)
    return path


@pytest.fixture(autouse=True)
def _no_digest_key_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(DIGEST_KEY_ENV, raising=False)  # as after `eval "$(azbatch-emulator env)"`


def _run(capsys: pytest.CaptureFixture[str], *args: str | Path) -> tuple[int, str, str]:
    code = main(["plan", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def test_nothing_to_do_exits_0(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _run(
        capsys,
        "-f",
        _manifest(tmp_path),
        "--observed",
        _observed(tmp_path),
        "--digest-key-file",
        _key(tmp_path),
    )
    assert code == 0
    assert out.startswith("No changes")


def test_changes_exit_2_and_print_each_action_with_fields_and_reasons(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = json.loads(json.dumps(SPEC))
    spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]["typeHandlerVersion"] = (
        "3.0"
    )
    code, out, _ = _run(
        capsys,
        "-f",
        _manifest(tmp_path, spec),
        "--observed",
        _observed(tmp_path),
        "--digest-key-file",
        _key(tmp_path),
    )
    assert code == 2
    assert "1. recreate deploymentConfiguration.virtualMachineConfiguration.extensions[kvext]" in out
    assert "   - recreate: extensions cannot change on an existing pool ('kvext')" in out


def test_json_output(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {**SPEC, "scaleSettings": {"fixedScale": {"targetDedicatedNodes": 4}}}
    code, out, _ = _run(
        capsys,
        "-f",
        _manifest(tmp_path, spec),
        "--observed",
        _observed(tmp_path),
        "--digest-key-file",
        _key(tmp_path),
        "--output",
        "json",
    )
    assert code == 2
    document = json.loads(out)
    assert document["actions"][0]["type"] == "patch"
    assert document["actions"][0]["fields"] == ["scaleSettings"]
    assert document["actions"][0]["reasons"]
    assert "t0ps3cret" not in out


def test_without_the_digest_key_secret_fields_are_not_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "-f", _manifest(tmp_path), "--observed", _observed(tmp_path))
    assert code == 0
    assert "Note: secret-backed fields of extension 'kvext' were not compared: no digest key was given" in out
    assert "--digest-key-file PATH or in AZBATCH_DIGEST_KEY_FILE" in out


def test_the_digest_key_comes_from_the_environment_as_for_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    key = tmp_path / "digest.key"
    key.write_bytes(DIGEST_KEY + b"\n")  # read as `run` reads it: surrounding whitespace is not the key
    monkeypatch.setenv(DIGEST_KEY_ENV, str(key))
    code, out, _ = _run(capsys, _manifest(tmp_path), "--observed", _observed(tmp_path))
    assert (code, out) == (0, "No changes: the pool matches the spec.\n")
    monkeypatch.setenv(DIGEST_KEY_ENV, str(tmp_path / "missing.key"))
    code, _, err = _run(capsys, _manifest(tmp_path), "--observed", _observed(tmp_path))
    assert code == 1 and f"{tmp_path / 'missing.key'} ({DIGEST_KEY_ENV})" in err


def test_an_extension_without_secrets_is_compared_without_the_digest_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = json.loads(json.dumps(SPEC))
    del spec["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]["protectedSettings"]
    code, out, _ = _run(capsys, _manifest(tmp_path, spec), "--observed", _observed(tmp_path, spec))
    assert (code, out) == (0, "No changes: the pool matches the spec.\n")


def test_without_secret_documents_secret_fields_are_not_compared(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "-f",
        _manifest(tmp_path, with_secret=False),
        "--observed",
        _observed(tmp_path),
        "--digest-key-file",
        _key(tmp_path),
    )
    assert code == 0
    assert "not compared" in out


def test_a_directory_is_named_as_given_and_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _run(capsys, tmp_path)
    assert code == 1
    assert err.startswith(f"azbatch-operator plan: {tmp_path}: a directory; plan takes one manifest file")
    assert f"azbatch-operator validate {tmp_path}" in err
    _, _, err = _run(capsys, "-f", tmp_path)
    assert f": -f {tmp_path}: a directory" in err


def test_a_usage_error_exits_1_so_that_2_always_means_changes(capsys: pytest.CaptureFixture[str]) -> None:
    assert _run(capsys)[0] == 1  # no manifest
    with pytest.raises(SystemExit) as refused:
        main(["plan", "--bogus", "pool.yaml"])
    assert refused.value.code == 1
    assert "usage: azbatch-operator plan " in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["plan", "--help"])
    assert "Exit codes: 0 nothing to do; 2 changes planned" in " ".join(capsys.readouterr().out.split())


def test_an_invalid_manifest_exits_1_with_the_findings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = json.loads(json.dumps(SPEC))
    bad["deploymentConfiguration"]["virtualMachineConfiguration"]["extensions"][0]["type"] = "CustomScript"
    code, _, err = _run(capsys, "-f", _manifest(tmp_path, bad), "--observed", _observed(tmp_path))
    assert code == 1
    assert "CustomScript" in err


@pytest.mark.parametrize("content", ["{not json", '{"name": "pool-a"}', "[]"])
def test_observed_json_that_is_not_a_pool_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str
) -> None:
    observed = tmp_path / "observed.json"
    observed.write_text(content)
    code, _, err = _run(capsys, "-f", _manifest(tmp_path), "--observed", observed)
    assert code == 1
    assert str(observed) in err


def test_observed_pool_of_another_name_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = _run(capsys, "-f", _manifest(tmp_path), "--observed", _observed(tmp_path, name="other"))
    assert code == 1
    assert "'other'" in err and "'pool-a'" in err


def test_a_wire_example_file_is_accepted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    example = json.loads((FIXTURES / "PoolGet_VirtualMachineConfiguration_Extensions.json").read_text())
    request = json.loads((FIXTURES / "PoolCreate_VirtualMachineConfiguration_Extensions.json").read_text())
    spec = {"account": ACCOUNT, "poolName": "testpool", **request["parameters"]["parameters"]["properties"]}
    observed = tmp_path / "get.json"
    observed.write_text(json.dumps(example))
    code, out, _ = _run(capsys, "-f", _manifest(tmp_path, spec, with_secret=False), "--observed", observed)
    assert code == 2
    assert out.startswith("1. recreate ")


def test_a_pool_owned_by_someone_else_is_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(
        capsys,
        "-f",
        _manifest(tmp_path),
        "--observed",
        _observed(tmp_path),
        "--owner",
        "another-cluster/ns/pool-a",
    )
    assert code == 0
    assert "OwnedByAnother" in out and OWNER in out


def test_an_unowned_pool_with_adopt_plans_ownership_only_and_says_what_needs_approval(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    observed = json.loads(_observed(tmp_path).read_text())
    observed["properties"]["metadata"] = []  # made by hand: no owner marker, no digests
    vmc = observed["properties"]["deploymentConfiguration"]["virtualMachineConfiguration"]
    vmc["extensions"][0]["typeHandlerVersion"] = "2.0"  # differs from the spec: only a recreate applies it
    (tmp_path / "observed.json").write_text(json.dumps(observed))
    spec = {**SPEC, "policy": {"adopt": True}}
    code, out, _ = _run(
        capsys, "-f", _manifest(tmp_path, spec), "--observed", tmp_path / "observed.json", "--output", "json"
    )
    result = json.loads(out)
    assert code == 2
    assert [(a["type"], a["fields"]) for a in result["actions"]] == [("patch", ["metadata"])]
    notes = " ".join(result["notes"])
    assert "recreate" in notes and "azbatch.dev/approve-disruption" in notes
