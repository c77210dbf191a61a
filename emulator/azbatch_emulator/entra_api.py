"""Entra ID endpoints: OpenID configuration, JWKS and the v2.0 token endpoint.

Supported: the client-secret flow (`ClientSecretCredential`) and the federated client-assertion
flow (`WorkloadIdentityCredential`), both with the client-credentials grant and a `.default` scope.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from azbatch_emulator.errors import ServiceError, dumps
from azbatch_emulator.identity import ASSERTION_TYPE, DEFAULT_TOKEN_LIFETIME, audience_for_scope

if TYPE_CHECKING:
    from azbatch_emulator.emulator import Emulator


def register(router: web.UrlDispatcher, emu: Emulator) -> None:
    api = EntraApi(emu)
    router.add_resource("/{tenant}/v2.0/.well-known/openid-configuration", name="entra.openid").add_route(
        "GET", api.openid_configuration
    )
    router.add_resource("/{tenant}/discovery/v2.0/keys", name="entra.keys").add_route("GET", api.keys)
    router.add_resource("/{tenant}/oauth2/v2.0/token", name="entra.token").add_route("POST", api.token)


class EntraApi:
    def __init__(self, emu: Emulator) -> None:
        self.emu = emu

    def _tenant(self, request: web.Request) -> str:
        tenant = request.match_info["tenant"]
        if tenant.lower() != self.emu.identity.tenant_id.lower():
            raise ServiceError(
                400,
                "invalid_tenant",
                f"AADSTS90002: Tenant '{tenant}' not found. Use the tenant_id the emulator printed "
                "(azbatch-emulator env sets AZURE_TENANT_ID).",
                target="90002",
            )
        return tenant

    async def openid_configuration(self, request: web.Request) -> web.Response:
        tenant = self._tenant(request)
        authority = f"{self.emu.base_url}/{tenant}"
        body = {
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"{authority}/v2.0",
            "request_uri_parameter_supported": False,
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "tenant_region_scope": None,
            "cloud_instance_name": "azbatch-emulator",
        }
        return web.Response(text=dumps(body), content_type="application/json")

    async def keys(self, request: web.Request) -> web.Response:
        self._tenant(request)
        return web.Response(text=dumps(self.emu.issuer.jwks()), content_type="application/json")

    async def token(self, request: web.Request) -> web.Response:
        self._tenant(request)
        form = await request.post()
        grant = str(form.get("grant_type", ""))
        if grant != "client_credentials":
            raise ServiceError(
                400,
                "unsupported_grant_type",
                f"AADSTS70003: The emulator supports only the client_credentials grant, not '{grant}'.",
                target="70003",
            )
        client_id = str(form.get("client_id", ""))
        if client_id != self.emu.identity.client_id:
            raise ServiceError(
                400,
                "unauthorized_client",
                f"AADSTS700016: Application with identifier '{client_id}' was not found in the directory. "
                "Use the client_id the emulator printed.",
                target="700016",
            )
        self._authenticate_client(form)
        audience = self._audience(str(form.get("scope", "")))
        token = self.emu.issuer.issue(audience=audience, client_id=client_id)
        lifetime = int(DEFAULT_TOKEN_LIFETIME) - 1
        body = {
            "token_type": "Bearer",
            "expires_in": lifetime,
            "ext_expires_in": lifetime,
            "access_token": token,
        }
        return web.Response(text=dumps(body), content_type="application/json")

    def _authenticate_client(self, form: Mapping[str, Any]) -> None:
        secret = form.get("client_secret")
        assertion = form.get("client_assertion")
        if assertion is not None:
            if form.get("client_assertion_type") != ASSERTION_TYPE:
                raise ServiceError(
                    400,
                    "invalid_request",
                    f"AADSTS50027: client_assertion_type must be '{ASSERTION_TYPE}'.",
                    target="50027",
                )
            subject = self.emu.federation.check(str(assertion))
            if not subject.startswith("system:serviceaccount:"):
                raise ServiceError(
                    401,
                    "invalid_client",
                    f"AADSTS70021: No matching federated identity record found for subject '{subject}'.",
                    target="70021",
                )
            return
        if secret is None:
            raise ServiceError(
                401,
                "invalid_client",
                "AADSTS7000216: 'client_assertion', 'client_secret' or 'request' is required for the "
                "'client_credentials' grant type.",
                target="7000216",
            )
        if str(secret) != self.emu.identity.client_secret:
            raise ServiceError(
                401,
                "invalid_client",
                "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request "
                "is the client secret value, not the client secret ID, for a secret added to app "
                f"'{self.emu.identity.client_id}'.",
                target="7000215",
            )

    @staticmethod
    def _audience(scope: str) -> str:
        resources = [s for s in scope.split() if s.endswith("/.default")]
        if len(resources) != 1:
            raise ServiceError(
                400,
                "invalid_scope",
                f"AADSTS1002012: The provided value for scope '{scope}' is not valid. Client credential "
                "flows must have exactly one scope value with /.default suffixed to the resource identifier.",
                target="1002012",
            )
        return audience_for_scope(resources[0])
