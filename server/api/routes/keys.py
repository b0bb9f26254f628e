"""API keys over HTTP, for admins: create (the key is in this answer only), list, revoke."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request, status

from tunehub.schema import KEY_NAME_PATTERN, KeyCreate, KeyCreated, KeyList
from tunehub.server.api.convert import key_out
from tunehub.server.api.deps import EngineDep
from tunehub.server.api.placement import run_db
from tunehub.server.flows import keys as key_flow

router = APIRouter(prefix="/keys", tags=["keys"])


@router.post("", status_code=status.HTTP_201_CREATED, response_model=KeyCreated)
async def create_key(body: KeyCreate, engine: EngineDep, request: Request) -> KeyCreated:
    row, key = await run_db(engine, lambda: key_flow.create_key(engine, body))
    request.app.state.gate.forget()
    return KeyCreated(**key_out(row).model_dump(), key=key)


@router.get("", response_model=KeyList)
async def list_keys(engine: EngineDep) -> KeyList:
    rows = await run_db(engine, lambda: key_flow.list_keys(engine))
    return KeyList(keys=[key_out(row) for row in rows])


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_key(
    name: str = Path(pattern=KEY_NAME_PATTERN.pattern, description="The key's name."),
    *,
    engine: EngineDep,
    request: Request,
) -> None:
    await run_db(engine, lambda: key_flow.revoke_key(engine, name))
    request.app.state.gate.forget()
