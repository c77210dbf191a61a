"""The certificates the harness gives a local kube-apiserver, as envtest shapes them."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from azbatch_operator.testenv import controlplane
from azbatch_operator.testenv.certs import TinyCA


def _load(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _names(cert: x509.Certificate, oid: x509.ObjectIdentifier) -> list[str]:
    return [str(attribute.value) for attribute in cert.subject.get_attributes_for_oid(oid)]


def test_the_serving_certificate_names_loopback_and_serves_only() -> None:
    ca = TinyCA()
    pair = ca.serving_cert("127.0.0.1", "apiserver.local")
    cert = _load(pair.cert_pem)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "apiserver.local"]
    assert san.get_values_for_type(x509.IPAddress) == [
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    ]
    assert _names(cert, NameOID.COMMON_NAME) == ["localhost"]
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment and not usage.key_cert_sign
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False
    cert.verify_directly_issued_by(ca.certificate)  # raises unless the CA signed it
    lifetime = cert.not_valid_after_utc - cert.not_valid_before_utc
    assert lifetime <= datetime.timedelta(days=7, minutes=1)
    key = serialization.load_pem_private_key(pair.key_pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey) and key.curve.name == "secp256r1"
    assert key.public_key().public_numbers() == cert.public_key().public_numbers()  # type: ignore[union-attr]


def test_a_client_certificate_carries_the_user_and_its_groups() -> None:
    ca = TinyCA()
    cert = _load(ca.client_cert("admin", ["system:masters"]).cert_pem)
    assert _names(cert, NameOID.COMMON_NAME) == ["admin"]
    assert _names(cert, NameOID.ORGANIZATION_NAME) == ["system:masters"]
    assert list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    cert.verify_directly_issued_by(ca.certificate)


def test_the_ca_is_a_ca() -> None:
    ca = TinyCA("some-ca")
    constraints = ca.certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert constraints.ca is True
    assert ca.certificate.extensions.get_extension_for_class(x509.KeyUsage).value.key_cert_sign
    assert ca.certificate.issuer == ca.certificate.subject


def test_the_cert_dir_holds_what_the_flags_name(tmp_path: Path) -> None:
    serving_ca_pem, admin = controlplane.write_certificates(tmp_path, "127.0.0.1")
    names = {path.name for path in tmp_path.iterdir()}
    assert names == {
        "apiserver.crt",
        "apiserver.key",
        "client-cert-auth-ca.crt",
        "sa-signer.crt",
        "sa-signer.key",
    }
    assert all(path.stat().st_mode & 0o077 == 0 for path in tmp_path.iterdir())
    serving = _load((tmp_path / "apiserver.crt").read_bytes())
    serving.verify_directly_issued_by(_load(serving_ca_pem))
    # The admin is issued by the CA the API server trusts for clients, not by the serving CA.
    client_ca = _load((tmp_path / "client-cert-auth-ca.crt").read_bytes())
    admin_cert = _load(admin.cert_pem)
    admin_cert.verify_directly_issued_by(client_ca)
    assert client_ca.subject != _load(serving_ca_pem).subject
    assert _names(admin_cert, NameOID.ORGANIZATION_NAME) == ["system:masters"]
    # The service-account signer: its key signs tokens, its certificate's public key checks them.
    signer_cert = _load((tmp_path / "sa-signer.crt").read_bytes())
    signer_key = serialization.load_pem_private_key((tmp_path / "sa-signer.key").read_bytes(), password=None)
    assert isinstance(signer_key, ec.EllipticCurvePrivateKey)
    assert signer_key.public_key().public_numbers() == signer_cert.public_key().public_numbers()  # type: ignore[union-attr]
