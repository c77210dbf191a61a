"""The test CA (trustme), kept in the state dir so clients keep trusting a restarted emulator."""

from __future__ import annotations

import ssl
from pathlib import Path

import trustme


def load_or_create_ca(state_dir: Path) -> trustme.CA:
    cert, key = state_dir / "ca.pem", state_dir / "ca-key.pem"
    if cert.exists() and key.exists():
        return trustme.CA.from_pem(cert.read_bytes(), key.read_bytes())
    ca = trustme.CA(organization_name="azbatch-emulator test CA")
    ca.cert_pem.write_to_path(str(cert))
    key.touch(mode=0o600)
    ca.private_key_pem.write_to_path(str(key))
    return ca


def server_context(ca: trustme.CA, host: str) -> ssl.SSLContext:
    names = sorted({host, "127.0.0.1", "localhost", "::1"})
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*names).configure_cert(context)
    return context


def write_bundle(ca_path: Path, bundle_path: Path) -> Path:
    """A CA bundle with the emulator's CA plus the public roots (when certifi is present), so that
    pointing SSL_CERT_FILE at it keeps other HTTPS working too."""
    parts = [ca_path.read_text()]
    try:
        import certifi  # noqa: PLC0415  (optional)

        parts.append(Path(certifi.where()).read_text())
    except ImportError:  # pragma: no cover - certifi ships with requests
        pass
    bundle_path.write_text("\n".join(parts))
    return bundle_path
