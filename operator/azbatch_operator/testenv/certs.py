"""The certificates a local API server needs, shaped as envtest's tiny CA makes them.

- a CA per purpose (serving, client authentication, service-account signing), ECDSA P-256;
- the serving certificate: CN `localhost`, SANs `localhost` and the loopback addresses plus the
  address the server binds, usage server auth, valid a week;
- client certificates: CN the user name, O its groups (`system:masters` for the admin, which
  the API server's authorizer lets do anything), usage client auth;
- the service-account signer: a key and a self-signed certificate carrying its public key
  (`--service-account-signing-key-file` / `--service-account-key-file`).
"""

from __future__ import annotations

import datetime
import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALIDITY = datetime.timedelta(days=7)  # envtest: 168 h
ORGANIZATION = "azbatch-testenv"


@dataclass(frozen=True)
class CertPair:
    """A certificate and its private key, PEM-encoded (key as unencrypted PKCS#8)."""

    cert_pem: bytes
    key_pem: bytes


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common_name: str, organizations: Sequence[str] = ()) -> x509.Name:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, org) for org in organizations]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attributes)


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, *, ca: bool
) -> x509.CertificateBuilder:
    """What every certificate here shares: a week's validity, basic constraints, the key usages
    (signing and key encipherment; certificate signing for a CA)."""
    now = _now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=True,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    )


class TinyCA:
    """A self-signed CA that issues serving and client certificates."""

    def __init__(self, common_name: str = f"{ORGANIZATION}-ca") -> None:
        self._key = _new_key()
        subject = _name(common_name, [ORGANIZATION])
        self.certificate = (
            _builder(subject, subject, self._key.public_key(), ca=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(self._key.public_key()), critical=False)
            .sign(self._key, hashes.SHA256())
        )

    @property
    def cert_pem(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.PEM)

    def pair(self) -> CertPair:
        """The CA's own certificate and key (the service-account signer is one of these)."""
        return CertPair(self.cert_pem, _key_pem(self._key))

    def _issue(
        self,
        subject: x509.Name,
        usage: x509.ObjectIdentifier,
        alt_names: Iterable[x509.GeneralName] = (),
    ) -> CertPair:
        key = _new_key()
        builder = (
            _builder(subject, self.certificate.subject, key.public_key(), ca=False)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self._key.public_key()), critical=False
            )
        )
        names = list(alt_names)
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        certificate = builder.sign(self._key, hashes.SHA256())
        return CertPair(certificate.public_bytes(serialization.Encoding.PEM), _key_pem(key))

    def serving_cert(self, *names: str) -> CertPair:
        """For a server reached as `localhost`, the loopback addresses and any extra name or IP."""
        dns: list[str] = []
        ips: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = []
        for name in ("localhost", "127.0.0.1", "::1", *names):
            try:
                ip = ipaddress.ip_address(name)
            except ValueError:
                if name and name not in dns:
                    dns.append(name)
            else:
                if ip not in ips:
                    ips.append(ip)
        alt: list[x509.GeneralName] = [x509.DNSName(n) for n in dns]
        alt.extend(x509.IPAddress(ip) for ip in ips)
        return self._issue(_name("localhost", [ORGANIZATION]), ExtendedKeyUsageOID.SERVER_AUTH, alt)

    def client_cert(self, user: str, groups: Sequence[str] = ()) -> CertPair:
        """The API server reads the user from CN and the groups from O."""
        return self._issue(_name(user, groups), ExtendedKeyUsageOID.CLIENT_AUTH)
