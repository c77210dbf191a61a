"""Entra ID stand-in: signing keys, access tokens, and their verification.

Tokens are RS256 JWTs signed with a key kept in the state directory, so tokens stay valid across
a restart. Token lifetimes use real time (clients refresh them by the wall clock), not the
simulation clock. Verification is cached by token string; expiry is checked on every use.
"""

from __future__ import annotations

import base64
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from azbatch_emulator.errors import ServiceError

MANAGEMENT_AUDIENCE = "https://management.azure.com/"
CLASSIC_MANAGEMENT_AUDIENCE = "https://management.core.windows.net/"
MANAGEMENT_AUDIENCES = (MANAGEMENT_AUDIENCE, CLASSIC_MANAGEMENT_AUDIENCE)
"""ARM accepts both: the public cloud's metadata names `management.core.windows.net` (what the Azure
CLI asks a token for), the SDKs default to `management.azure.com`."""
BATCH_AUDIENCE = "https://batch.core.windows.net/"
FEDERATION_AUDIENCE = "api://AzureADTokenExchange"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
DEFAULT_TOKEN_LIFETIME = 3600.0
_CACHE_LIMIT = 10_000


def load_or_create_key(path: Path) -> rsa.RSAPrivateKey:
    """An RSA key stored as PEM (mode 0600) so that it survives a restart."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError(f"{path} does not hold an RSA private key; delete it to make a new one")
        return key
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.touch(mode=0o600)
    path.write_bytes(pem)
    return key


def _b64(number: int) -> str:
    raw = number.to_bytes((number.bit_length() + 7) // 8, "big")
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    numbers = key.public_key().public_numbers()
    return {
        "kty": "RSA",
        "use": "sig",
        "kid": kid,
        "alg": "RS256",
        "n": _b64(numbers.n),
        "e": _b64(numbers.e),
    }


def audience_for_scope(scope: str) -> str:
    """`https://batch.core.windows.net//.default` -> `https://batch.core.windows.net/`."""
    resource = scope[: -len("/.default")]
    return resource if resource.endswith("/") else resource + "/"


def _utc(t: float) -> str:
    return time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime(t))


def same_audience(a: str, b: str) -> bool:
    return a.rstrip("/") == b.rstrip("/")


def object_id(client_id: str) -> str:
    """The service principal's object id (`oid`) in tokens for this client id: stable per client."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, client_id))


@dataclass(frozen=True)
class VerifiedToken:
    audience: str
    expires: float
    client_id: str


class TokenIssuer:
    """Issues and verifies the emulator's access tokens for one tenant."""

    def __init__(self, key: rsa.RSAPrivateKey, *, tenant_id: str, issuer: str) -> None:
        self.tenant_id = tenant_id
        self.issuer = issuer
        self.kid = "azbatch-emulator-1"
        self._key = key
        self._public = key.public_key()
        self._cache: dict[str, VerifiedToken] = {}

    def jwks(self) -> dict[str, Any]:
        return {"keys": [jwk(self._key, self.kid)]}

    def issue(self, *, audience: str, client_id: str, lifetime: float = DEFAULT_TOKEN_LIFETIME) -> str:
        now = int(time.time())
        claims = {
            "aud": audience,
            "iss": self.issuer,
            "iat": now,
            "nbf": min(now, now + int(lifetime)),
            "exp": now + int(lifetime),
            "tid": self.tenant_id,
            "appid": client_id,
            "azp": client_id,
            "oid": object_id(client_id),
            "sub": object_id(client_id),
            "idtyp": "app",
            "ver": "2.0",
            "uti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": self.kid})

    def verify(self, token: str, *, audience: str | tuple[str, ...]) -> VerifiedToken:
        """Check signature, expiry and audience (one of `audience`); raise a 401 `ServiceError`."""
        allowed = (audience,) if isinstance(audience, str) else audience
        verified = self._cache.get(token)
        if verified is None:
            try:
                claims = jwt.decode(
                    token,
                    self._public,
                    algorithms=["RS256"],
                    issuer=self.issuer,
                    options={"verify_aud": False, "verify_exp": False, "require": ["exp", "aud"]},
                )
            except jwt.PyJWTError as exc:
                raise ServiceError(401, "InvalidAuthenticationToken", "The access token is invalid.") from exc
            verified = VerifiedToken(str(claims["aud"]), float(claims["exp"]), str(claims.get("appid", "")))
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[token] = verified
        if verified.expires <= time.time():
            raise ServiceError(
                401,
                "ExpiredAuthenticationToken",
                f"The access token expiry UTC time '{_utc(verified.expires)}' is earlier than current UTC "
                f"time '{_utc(time.time())}'.",
            )
        if not any(same_audience(verified.audience, a) for a in allowed):
            raise ServiceError(
                401,
                "InvalidAuthenticationTokenAudience",
                f"The access token has been obtained for wrong audience or resource '{verified.audience}'. "
                f"It should exactly match with one of the allowed audiences '{', '.join(allowed)}'.",
            )
        return verified


class FederationIssuer:
    """Stands in for a Kubernetes service-account token issuer (workload identity federation).

    It writes a projected-token-like file that `WorkloadIdentityCredential` reads
    (`AZURE_FEDERATED_TOKEN_FILE`); the token endpoint accepts assertions it signed.
    """

    def __init__(self, key: rsa.RSAPrivateKey, *, issuer: str) -> None:
        self.issuer = issuer
        self._key = key
        self._public = key.public_key()

    def mint(self, *, subject: str, lifetime: float = 86400.0) -> str:
        now = int(time.time())
        claims = {
            "aud": [FEDERATION_AUDIENCE],
            "iss": self.issuer,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + int(lifetime),
        }
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"kid": "federation-1"})

    def check(self, assertion: str) -> str:
        """Return the subject of a valid assertion, else raise the token endpoint's 401."""
        try:
            claims = jwt.decode(
                assertion,
                self._public,
                algorithms=["RS256"],
                audience=FEDERATION_AUDIENCE,
                issuer=self.issuer,
            )
        except jwt.ExpiredSignatureError as exc:
            raise ServiceError(
                400,
                "invalid_client",
                "AADSTS700024: Client assertion is not within its valid time range.",
                target="700024",
            ) from exc
        except jwt.PyJWTError as exc:
            raise ServiceError(
                401,
                "invalid_client",
                "AADSTS700211: No matching federated identity record found for presented assertion issuer, "
                f"or the assertion is not signed by it ({exc}). Use the token file the emulator wrote.",
                target="700211",
            ) from exc
        return str(claims["sub"])
