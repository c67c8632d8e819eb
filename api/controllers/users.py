"""Users and API tokens over the API: admins manage users; everyone manages their own tokens."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, Request, Response, delete, get, post
from litestar.params import Body, FromPath, JSONBody, QueryParameter
from pydantic import BaseModel, ConfigDict, Field

from api.auth import require_principal
from api.clients import client_address, is_known_device
from catalogue.access import Action, allowed
from catalogue.errors import NotFound, PermissionDenied
from catalogue.users import (
    ApiToken,
    User,
    UserOrganisation,
    authenticate,
    create_token,
    create_user,
    find_token,
    list_tokens,
    list_users,
    revoke_token,
    update_user,
)
from catalogue.vocabularies import VOCABULARIES, Role

ORGANISATION_HELP = "Kommune oder Körperschaft aus dem Gemeindeverzeichnis: Schlüssel (AGS/ARS) oder eindeutiger Name"


class UserIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=40)
    password: str = Field(min_length=10, max_length=1024)
    role: Role = Role.EDITOR
    display_name: str | None = Field(default=None, max_length=200)
    email: str | None = Field(default=None, max_length=320)
    organisation: str | None = Field(default=None, max_length=200, description=ORGANISATION_HELP)


class UserOut(BaseModel):
    username: str
    display_name: str
    email: str | None
    role: Role
    active: bool
    created_at: datetime
    organisation: UserOrganisation | None = None


class UserPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    role: Role | None = None
    active: bool | None = None
    display_name: str | None = Field(default=None, max_length=200)
    organisation: str | None = Field(default=None, max_length=200, description=ORGANISATION_HELP + "; leer entfernt sie")


class TokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100, description="Wofür ist das Token?")
    username: str | None = Field(default=None, description="Nur für Administration: Token für einen anderen Benutzer")


class LoginTokenIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(max_length=64)
    password: str = Field(max_length=1024)
    name: str = Field(default="API-Zugang", max_length=100)


class TokenOut(BaseModel):
    token_id: str
    username: str
    name: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None


class NewTokenOut(TokenOut):
    token: str = Field(description="Das Geheimnis; es wird nur dieses eine Mal angezeigt")


def _user_out(u: User) -> UserOut:
    return UserOut(
        username=u.username, display_name=u.display_name, email=u.email, role=u.role, active=u.active, created_at=u.created_at,
        organisation=u.organisation,
    )


def _token_out(t: ApiToken) -> TokenOut:
    return TokenOut(token_id=t.token_id, username=t.username, name=t.name, created_at=t.created_at, last_used_at=t.last_used_at, revoked_at=t.revoked_at)


class UserController(Controller):
    path = "/api/v1"
    tags = ["Benutzer und Tokens"]

    async def _admin(self, request: Request):  # noqa: ANN202
        principal = await require_principal(request)
        if not allowed(principal, Action.MANAGE_USERS):
            raise PermissionDenied("Benutzer verwaltet nur die Administration.")
        return principal

    @get(
        "/users",
        operation_id="listUsers",
        summary="Benutzer auflisten (Administration), nach Benutzernamen, seitenweise",
        description="Die Antwort-Header `X-Total-Count` (Zahl der Benutzer) und `Link` (rel=next) helfen beim Blättern.",
    )
    async def list_users(
        self,
        request: Request,
        page: Annotated[int, QueryParameter(ge=1, le=100_000)] = 1,
        per_page: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> Response[list[UserOut]]:
        await self._admin(request)
        users, total = await list_users(page=page, per_page=per_page)
        headers = {"X-Total-Count": str(total)}
        if page * per_page < total:
            headers["Link"] = f'<{request.url.path}?page={page + 1}&per_page={per_page}>; rel="next"'
        return Response([_user_out(u) for u in users], headers=headers)

    @post("/users", operation_id="createUser", summary="Benutzer anlegen (Administration)", status_code=201)
    async def create_user(self, request: Request, data: JSONBody[UserIn]) -> UserOut:
        await self._admin(request)
        return _user_out(
            await create_user(
                data.username, data.password, data.role, display_name=data.display_name, email=data.email, organisation=data.organisation
            )
        )

    @post("/users/{username:str}", operation_id="updateUser", summary="Rolle oder Kommune ändern, sperren oder entsperren (Administration)", status_code=200)
    async def update_user(self, request: Request, username: FromPath[str], data: JSONBody[UserPatch]) -> UserOut:
        await self._admin(request)
        # Locking voids the user's browser sessions for good: a later unlock does not revive them.
        user = await update_user(
            username, role=data.role, active=data.active, display_name=data.display_name, organisation=data.organisation
        )
        return _user_out(user)

    @get("/tokens", operation_id="listTokens", summary="Eigene API-Tokens (Administration: alle)")
    async def list_tokens(self, request: Request) -> list[TokenOut]:
        principal = await require_principal(request)
        return [_token_out(t) for t in await list_tokens(None if principal.is_admin else principal.username)]

    @post("/tokens", operation_id="createToken", summary="API-Token erzeugen (wird nur einmal angezeigt)", status_code=201)
    async def create_token(self, request: Request, data: JSONBody[TokenIn]) -> NewTokenOut:
        principal = await require_principal(request)
        username = data.username or principal.username
        if username != principal.username and not principal.is_admin:
            raise PermissionDenied("Tokens für andere erzeugt nur die Administration.")
        token, secret = await create_token(username, data.name)
        return NewTokenOut(**_token_out(token).model_dump(), token=secret)

    @post("/auth/token", operation_id="loginForToken", summary="Mit Benutzername und Passwort ein API-Token erhalten", status_code=201)
    async def login_for_token(self, request: Request, data: Annotated[LoginTokenIn, Body(title="Anmeldung")]) -> NewTokenOut:
        principal = await authenticate(
            data.username,
            data.password,
            client_address=client_address(request),
            known_device=is_known_device(request, data.username),
        )
        token, secret = await create_token(principal.username, data.name)
        return NewTokenOut(**_token_out(token).model_dump(), token=secret)

    @delete("/tokens/{token_id:str}", operation_id="revokeToken", summary="API-Token widerrufen", status_code=200)
    async def revoke(self, request: Request, token_id: FromPath[str]) -> TokenOut:
        principal = await require_principal(request)
        token = await find_token(token_id)
        if token is None or (token.username != principal.username and not principal.is_admin):
            raise NotFound(f"Token {token_id} nicht gefunden.")
        return _token_out(await revoke_token(token_id))


class VocabularyController(Controller):
    path = "/api/v1/vocabularies"
    tags = ["Vokabulare"]

    @get(operation_id="getVocabularies", summary="Alle kontrollierten Listen (Handlungsfelder, Bundesländer, Rechtsformen …)")
    async def vocabularies(self) -> dict[str, list[str]]:
        return {name: [v.value for v in vocabulary] for name, vocabulary in VOCABULARIES.items()}
