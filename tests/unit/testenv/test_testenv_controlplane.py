"""The control plane the harness starts from KUBEBUILDER_ASSETS, proven on fake binaries
(fake_binaries.py): the flags each binary gets, readiness as the admin, retries, and teardown."""

from __future__ import annotations

import json
import os
import signal
import ssl
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import fake_binaries
import pytest

from azbatch_operator.testenv import controlplane
from azbatch_operator.testenv.controlplane import ControlPlane, apiserver_args, etcd_args
from azbatch_operator.testenv.process import (
    BinaryMissingError,
    ControlPlaneError,
    ControlProcess,
    HealthCheck,
    find_binary,
    has_flag,
    parse_duration,
    timeouts,
)


@pytest.fixture
def assets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, Path, dict[str, str]]]:
    folder = fake_binaries.install(tmp_path / "assets")
    records = tmp_path / "records"
    records.mkdir()
    monkeypatch.setenv("FAKE_RECORD_DIR", str(records))  # the fakes inherit this process's environment
    env = {"KUBEBUILDER_ASSETS": str(folder), "KUBEBUILDER_CONTROLPLANE_START_TIMEOUT": "10s"}
    yield folder, records, env


def _recorded(records: Path, name: str) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(records.glob(f"{name}.*.json"))]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie is not alive
        status = Path(f"/proc/{pid}/stat").read_text().split()[2]
    except OSError:
        return False
    return status != "Z"


# -- flags --------------------------------------------------------------------------------------------


def test_the_api_server_gets_envtest_flags_sorted(tmp_path: Path) -> None:
    args = apiserver_args(etcd_url="http://127.0.0.1:2379", cert_dir=tmp_path, port=6443)
    assert args == [
        "--allow-privileged=true",
        "--authorization-mode=RBAC",
        "--bind-address=127.0.0.1",
        f"--cert-dir={tmp_path}",
        f"--client-ca-file={tmp_path}/client-cert-auth-ca.crt",
        "--disable-admission-plugins=ServiceAccount",
        "--etcd-servers=http://127.0.0.1:2379",
        "--secure-port=6443",
        "--service-account-issuer=https://127.0.0.1:6443/",
        f"--service-account-key-file={tmp_path}/sa-signer.crt",
        f"--service-account-signing-key-file={tmp_path}/sa-signer.key",
        "--service-cluster-ip-range=10.0.0.0/24",
    ]
    # Flags removed from 1.24+ servers are never passed.
    assert not any(a.startswith(("--insecure-port", "--insecure-bind-address")) for a in args)


def test_extra_api_server_flags_override_or_drop_defaults(tmp_path: Path) -> None:
    args = apiserver_args(
        etcd_url="http://e",
        cert_dir=tmp_path,
        port=1,
        extra={"authorization-mode": "RBAC,Node", "allow-privileged": None, "v": "4"},
    )
    assert "--authorization-mode=RBAC,Node" in args
    assert not any(a.startswith("--allow-privileged") for a in args)
    assert args[-1] == "--v=4"


def test_etcd_flags(tmp_path: Path) -> None:
    common = {"client_url": "http://127.0.0.1:1", "peer_url": "http://127.0.0.1:2", "data_dir": tmp_path}
    assert etcd_args(**common, no_fsync=True) == [
        "--advertise-client-urls=http://127.0.0.1:1",
        f"--data-dir={tmp_path}",
        "--listen-client-urls=http://127.0.0.1:1",
        "--listen-peer-urls=http://127.0.0.1:2",
        "--unsafe-no-fsync=true",
    ]
    assert "--unsafe-no-fsync=true" not in etcd_args(**common, no_fsync=False)


# -- envtest's lookup rules --------------------------------------------------------------------------


def test_binaries_are_found_as_envtest_finds_them() -> None:
    assert find_binary("kube-apiserver", {}) == Path("/usr/local/kubebuilder/bin/kube-apiserver")
    assert find_binary("etcd", {"KUBEBUILDER_ASSETS": "/a"}) == Path("/a/etcd")
    overrides = {"KUBEBUILDER_ASSETS": "/a", "TEST_ASSET_KUBE_APISERVER": "/b/apiserver"}
    assert find_binary("kube-apiserver", overrides) == Path("/b/apiserver")
    assert find_binary("etcd", overrides) == Path("/a/etcd")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("20s", 20.0), ("1m30s", 90.0), ("1.5h", 5400.0), ("500ms", 0.5), ("0", 0.0), ("2m", 120.0)],
)
def test_go_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "20", "s", "1x", "20s junk", "-5s"])
def test_bad_durations_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_timeouts_default_to_20_seconds_each() -> None:
    assert timeouts({}) == (20.0, 20.0)
    assert timeouts(
        {"KUBEBUILDER_CONTROLPLANE_START_TIMEOUT": "1m", "KUBEBUILDER_CONTROLPLANE_STOP_TIMEOUT": "5s"}
    ) == (60.0, 5.0)


def test_flags_are_read_from_help(assets: tuple[Path, Path, dict[str, str]]) -> None:
    folder, _, _ = assets
    assert has_flag(folder / "etcd", "unsafe-no-fsync")
    assert not has_flag(folder / "etcd", "strict-reconfig-check")
    assert not has_flag(folder / "etcd", "fsync")  # at the start of a line, as envtest reads it
    assert not has_flag(folder / "kube-apiserver", "insecure-port")


# -- the control plane on fakes ---------------------------------------------------------------------


def test_the_control_plane_starts_serves_the_admin_and_goes_away(
    assets: tuple[Path, Path, dict[str, str]],
) -> None:
    _, records, env = assets
    plane = ControlPlane(env=env)
    started = time.monotonic()
    admin = plane.start()
    try:
        assert time.monotonic() - started < 10
        assert plane.root is not None and plane.etcd is not None and plane.apiserver is not None
        (etcd,) = _recorded(records, "etcd")
        (apiserver,) = _recorded(records, "kube-apiserver")
        flags = dict(a[2:].split("=", 1) for a in apiserver["argv"])
        etcd_flags = dict(a[2:].split("=", 1) for a in etcd["argv"])
        assert etcd_flags["unsafe-no-fsync"] == "true"  # the fake's --help lists it
        assert (
            flags["etcd-servers"] == etcd_flags["listen-client-urls"] == etcd_flags["advertise-client-urls"]
        )
        assert admin.server == f"https://127.0.0.1:{flags['secure-port']}"
        assert flags["service-account-issuer"] == admin.server + "/"
        assert Path(flags["cert-dir"], "apiserver.crt").is_file()
        # Each binary runs in a process group of its own (stopped as a group).
        assert etcd["pgid"] == etcd["pid"] and apiserver["pgid"] == apiserver["pid"]

        # The server trusts the admin's certificate (system:masters) and nobody without one.
        context = controlplane.client_ssl_context(admin.ca_pem, admin.client, plane.root / "probe")
        with urllib.request.urlopen(admin.server + "/readyz", context=context, timeout=5) as answer:
            assert answer.status == 200
        anonymous = ssl.create_default_context(cadata=admin.ca_pem.decode())  # hostname checked too
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(admin.server + "/readyz", context=anonymous, timeout=5)
        assert refused.value.code == 401
        pids = [etcd["pid"], apiserver["pid"]]
        root = plane.root
    finally:
        plane.stop()
    assert not any(_alive(pid) for pid in pids)
    assert not root.exists()
    assert plane.etcd is None and plane.apiserver is None


def test_a_missing_binary_is_named_at_once(tmp_path: Path) -> None:
    plane = ControlPlane(env={"KUBEBUILDER_ASSETS": str(tmp_path)})
    with pytest.raises(BinaryMissingError, match=f"no executable at {tmp_path}/etcd"):
        plane.start()
    assert plane.root is None  # the directory it made is gone


def test_a_binary_that_exits_is_reported_with_its_output_and_retried(
    assets: tuple[Path, Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, records, env = assets
    monkeypatch.setenv("FAKE_MODE", "exit")
    with pytest.raises(ControlPlaneError, match=r"(?s)etcd exited with 3 .*refusing to start"):
        ControlPlane(env=env).start()
    assert len(_recorded(records, "etcd")) == controlplane.START_ATTEMPTS


def _process(folder: Path, tmp_path: Path, **options: Any) -> ControlProcess:
    client = f"http://127.0.0.1:{controlplane.free_port()}"
    return ControlProcess(
        name="etcd",
        binary=folder / "etcd",
        args=[f"--listen-client-urls={client}", f"--data-dir={tmp_path / 'data'}"],
        health=HealthCheck(f"{client}/health"),
        directory=tmp_path / "etcd-dir",
        **options,
    )


def test_a_process_that_never_gets_ready_is_stopped_at_the_start_timeout(
    assets: tuple[Path, Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, records, _ = assets
    monkeypatch.setenv("FAKE_MODE", "never-ready")
    process = _process(folder, tmp_path, start_timeout=1.0)
    with pytest.raises(ControlPlaneError, match=r"did not answer 200 within 1 s"):
        process.start()
    (record,) = _recorded(records, "etcd")
    assert not _alive(record["pid"])


def test_stop_kills_what_ignores_sigterm_and_removes_its_directory(
    assets: tuple[Path, Path, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, records, _ = assets
    monkeypatch.setenv("FAKE_MODE", "stubborn")
    process = _process(folder, tmp_path, stop_timeout=0.5, remove_directory=True)
    process.start()
    assert process.running() and process.log_path.exists()
    (record,) = _recorded(records, "etcd")
    started = time.monotonic()
    process.stop()
    assert 0.5 <= time.monotonic() - started < 5
    assert not _alive(record["pid"]) and not process.running()
    assert not (tmp_path / "etcd-dir").exists()


def test_stop_is_sigterm_first(assets: tuple[Path, Path, dict[str, str]], tmp_path: Path) -> None:
    folder, _, _ = assets
    process = _process(folder, tmp_path, stop_timeout=10)
    process.start()
    popen = process.process
    assert popen is not None
    started = time.monotonic()
    process.stop()
    assert time.monotonic() - started < 5  # it left on SIGTERM, not at the kill after 10 s
    assert popen.returncode in (0, -signal.SIGTERM)
    assert (tmp_path / "etcd-dir").exists()  # not ours to remove
    process.stop()  # twice is harmless
