"""Import API: editors upload a file, check the preview, then confirm it.

POST /api/v1/imports takes a multipart upload (field `file`) or the raw file
as the request body (with `?filename=`), parses it, runs a dry run and keeps
the parsed records with the preview in an `ImportBatch`. Nothing is written
to the catalogue until POST /api/v1/imports/{id}/confirm, which writes
exactly the previewed records. Only the uploader (and the editorial office)
sees or confirms a batch. Of concurrent confirms one runs and the others
get 409; a confirm that failed part-way (500) can be sent again and
completes the same set of profiles (see catalogue/imports.py).
"""

from __future__ import annotations

import asyncio
import logging
import re
from datetime import datetime
from typing import Annotated
from uuid import uuid4

from beanie import PydanticObjectId
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.params import Body, PathParameter, QueryParameter
from pydantic import BaseModel, Field
from pymongo.errors import DocumentTooLarge

from api.auth import require_principal
from catalogue import atomic
from catalogue.access import Action, allowed
from catalogue.errors import CatalogueError, Conflict, Gone, ImportFailed, NotFound, PermissionDenied, TooLarge, ValidationFailed
from catalogue.imports import BatchStatus, ImportBatch
from catalogue.models import utcnow
from catalogue.users import Principal
from importers.base import Source, SourceTooLargeError
from importers.register import refresh_importer_gazetteer
from importers.registry import FORMAT_CHOICES
from importers.runner import ImportItem, ImportRunner, parse_sources

log = logging.getLogger("leuchtturm.import")

UPLOAD_MAX_BYTES = 10 * 1024 * 1024
REQUEST_MAX_BYTES = UPLOAD_MAX_BYTES + 256 * 1024  # room for the multipart envelope

BatchId = Annotated[str, PathParameter(pattern=r"^[0-9a-f]{24}$", description="Kennung des Imports")]


class FieldMessage(BaseModel):
    field: str
    message: str


class ImportRecordOut(BaseModel):
    position: int = Field(description="Nummer des Datensatzes in der Datei (ab 1)")
    source: str
    action: str = Field(description="created, updated, unchanged, duplicate oder error")
    action_label: str
    kind: str = Field(description="profile oder gazetteer")
    slug: str | None = None
    title: str | None = None
    status: str | None = Field(default=None, description="Status des Profils nach dem Import")
    duplicate_of: str | None = None
    warnings: list[FieldMessage] = Field(default_factory=list)
    errors: list[FieldMessage] = Field(default_factory=list)


class ImportReportOut(BaseModel):
    dry_run: bool
    publish: bool
    summary: str = Field(description="Zusammenfassung, z. B. „12 neu, 3 geändert, 40 unverändert, 1 Dublette übersprungen, 2 Fehler“")
    counts: dict[str, int]
    total: int
    records: list[ImportRecordOut]


class ImportBatchOut(BaseModel):
    id: str
    status: BatchStatus
    owner: str
    source_name: str
    format: str | None
    size_bytes: int
    created_at: datetime
    expires_at: datetime
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    preview: ImportReportOut
    result: ImportReportOut | None = None
    error: str | None = Field(default=None, description="Warum die letzte Bestätigung scheiterte (Status failed; erneut bestätigen)")
    links: dict[str, str]


class ConfirmIn(BaseModel):
    publish: bool = Field(default=False, description="Direkt veröffentlichen (nur Katalogredaktion)")
    merge: bool | None = Field(default=None, description="Vermutliche Dubletten zusammenführen statt überspringen")


def _batch_out(batch: ImportBatch) -> ImportBatchOut:
    base = f"/api/v1/imports/{batch.id}"
    return ImportBatchOut(
        id=str(batch.id),
        status=batch.status,
        owner=batch.owner,
        source_name=batch.source_name.rsplit("/", 1)[-1],
        format=batch.format,
        size_bytes=batch.size_bytes,
        created_at=batch.created_at,
        expires_at=batch.expires_at,
        confirmed_at=batch.confirmed_at,
        confirmed_by=batch.confirmed_by,
        preview=ImportReportOut.model_validate(batch.preview),
        result=ImportReportOut.model_validate(batch.result) if batch.result else None,
        error="Der Import wurde unterbrochen und kann erneut bestätigt werden." if batch.status == BatchStatus.FAILED else None,
        links={"self": base, "confirm": f"{base}/confirm"},
    )


def _clean_filename(name: str | None) -> str:
    name = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    name = re.sub(r"[\x00-\x1f\x7f]", "", name).strip()[:200]
    return name or "upload"


async def _read_upload(request: Request, filename: str | None) -> tuple[str, bytes, str | None]:
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise ValidationFailed(
                "Bitte die Datei im Feld „file“ hochladen.", errors=[{"field": "file", "message": "Pflichtfeld fehlt"}]
            )
        raw = await upload.read()
        return _clean_filename(upload.filename or filename), raw, upload.content_type
    raw = await request.body()
    return _clean_filename(filename), raw, content_type.split(";", 1)[0].strip() or None


async def _visible_batch(batch_id: str, principal: Principal) -> ImportBatch:
    batch = await ImportBatch.get(PydanticObjectId(batch_id))
    if batch is None or (batch.owner != principal.username and not principal.is_reviewer):
        raise NotFound("Diesen Import gibt es nicht.")
    if batch.is_expired():
        # Conditional: a confirm that claimed the batch a moment ago keeps it.
        await atomic.update_if(
            ImportBatch.get_pymongo_collection(), batch.id, {"status": BatchStatus.PREVIEW.value},
            {"$set": {"status": BatchStatus.EXPIRED.value, "records": []}},
        )
        batch = await ImportBatch.get(batch.id) or batch
    return batch


class ImportController(Controller):
    path = "/api/v1/imports"
    tags = ["Import"]

    @post(
        operation_id="createImport",
        summary="Datei hochladen und Vorschau erzeugen (noch nichts gespeichert)",
        description=(
            "Multipart-Upload im Feld `file` oder die Datei als Anfragekörper mit `?filename=`. "
            "Formate: strukturierter Text, Referenztext, HTML, CSV/JSON/NDJSON im Katalogformat. "
            "Höchstens 10 MB. Antwort: die Vorschau je Datensatz mit Hinweisen und Fehlern."
        ),
        status_code=201,
        request_max_body_size=REQUEST_MAX_BYTES,
    )
    async def create_import(
        self,
        request: Request,
        format: Annotated[str, QueryParameter(name="format", description="Format der Datei", pattern="^(" + "|".join(FORMAT_CHOICES) + ")$")] = "auto",
        filename: Annotated[str | None, QueryParameter(name="filename", max_length=200, description="Dateiname bei Upload als Anfragekörper")] = None,
        merge: Annotated[bool, QueryParameter(name="merge", description="Vermutliche Dubletten zusammenführen statt überspringen")] = False,
    ) -> Response[ImportBatchOut]:
        principal = await require_principal(request)
        if not allowed(principal, Action.IMPORT):
            raise PermissionDenied("Sie dürfen keine Profile importieren.")
        name, raw, media_type = await _read_upload(request, filename)
        if len(raw) > UPLOAD_MAX_BYTES:
            raise TooLarge(f"Die Datei ist zu groß ({len(raw) / 1048576:.1f} MB). Höchstens 10 MB sind erlaubt – bitte aufteilen.")
        if not raw.strip():
            raise ValidationFailed("Die Datei ist leer.", errors=[{"field": "file", "message": "leer"}])
        source = Source(name=f"upload/{principal.username}/{name}", raw=raw, media_type=media_type)
        await refresh_importer_gazetteer()  # names resolve with the register that is loaded
        try:
            items = await asyncio.to_thread(parse_sources, [source], format)
        except SourceTooLargeError as exc:
            raise TooLarge(str(exc)) from None
        runtime = request.app.state.runtime
        runner = ImportRunner(principal, search=runtime.search, on_change=runtime.notify_change)
        preview = await runner.run_items(items, dry_run=True, merge=merge)
        batch = ImportBatch(
            owner=principal.username,
            source_name=source.name,
            format=items[0].importer if items else None,
            size_bytes=len(raw),
            records=[i.to_dict() for i in items],
            preview=preview.to_dict(),
            merge=merge,
        )
        try:
            await batch.insert()
        except DocumentTooLarge:
            raise TooLarge(
                "Die Datei enthält zu viele Datensätze für eine Vorschau. Bitte aufteilen oder von der Redaktion per Kommandozeile importieren lassen."
            ) from None
        out = _batch_out(batch)
        return Response(out, status_code=201, headers={"Location": out.links["self"]})

    @get("/{batch_id:str}", operation_id="getImport", summary="Vorschau oder Ergebnis eines Imports")
    async def get_import(self, request: Request, batch_id: BatchId) -> ImportBatchOut:
        principal = await require_principal(request)
        return _batch_out(await _visible_batch(batch_id, principal))

    @post(
        "/{batch_id:str}/confirm",
        operation_id="confirmImport",
        summary="Vorschau bestätigen und importieren",
        description="Schreibt genau die Datensätze der Vorschau. `publish: true` veröffentlicht direkt (nur Katalogredaktion).",
        status_code=200,
    )
    async def confirm_import(
        self, request: Request, batch_id: BatchId, data: Annotated[ConfirmIn | None, Body(title="Optionen")] = None
    ) -> ImportBatchOut:
        principal = await require_principal(request)
        options = data or ConfirmIn()
        batch = await _visible_batch(batch_id, principal)
        if batch.status == BatchStatus.EXPIRED:
            raise Gone("Die Vorschau ist abgelaufen. Bitte die Datei erneut hochladen.")
        if batch.status == BatchStatus.CONFIRMED:
            raise Conflict("Dieser Import wurde bereits ausgeführt.")
        if batch.status == BatchStatus.CONFIRMING and not batch.claim_is_stale():
            raise Conflict("Dieser Import läuft gerade. Bitte warten Sie einen Moment und laden Sie dann das Ergebnis.")
        items = [ImportItem.from_dict(r) for r in batch.records]
        runtime = request.app.state.runtime
        # New profiles belong to the uploader, also when the editorial office confirms the upload.
        # Their ids derive from the batch, so a retry after a failure recognises what was written.
        runner = ImportRunner(principal, search=runtime.search, on_change=runtime.notify_change, owner=batch.owner, id_seed=str(batch.id))
        runner.check_permissions(items, publish=options.publish)  # 403 before anything changes
        collection = ImportBatch.get_pymongo_collection()
        now = utcnow()
        claim = uuid4().hex
        # Compare-and-set on the state that was read: of concurrent confirms exactly one gets the batch.
        claimed = await atomic.update_if(
            collection,
            batch.id,
            {"status": batch.status.value, "claim": batch.claim},
            {"$set": {"status": BatchStatus.CONFIRMING.value, "claim": claim, "claimed_at": now,
                      "confirmed_by": principal.username, "publish": options.publish, "error": None}},
        )
        if not claimed:
            raise Conflict("Dieser Import wird bereits ausgeführt.")
        merge = options.merge if options.merge is not None else batch.merge
        try:
            report = await runner.run_items(items, publish=options.publish, merge=merge)
        except CatalogueError:
            await atomic.update_if(collection, batch.id, {"claim": claim}, {"$set": {"status": batch.status.value, "claim": None}})
            raise
        except Exception as exc:
            log.exception("import %s failed part-way", batch.id)
            await atomic.update_if(
                collection, batch.id, {"claim": claim},
                {"$set": {"status": BatchStatus.FAILED.value, "claim": None, "error": f"{type(exc).__name__}: {exc}"[:500]}},
            )
            raise ImportFailed(
                "Der Import wurde unterbrochen. Bitte bestätigen Sie ihn noch einmal: "
                "bereits gespeicherte Datensätze werden erkannt und nicht doppelt angelegt."
            ) from exc
        result = report.to_dict()
        done = utcnow()
        await atomic.update_if(
            collection, batch.id, {"claim": claim},
            {"$set": {"status": BatchStatus.CONFIRMED.value, "result": result, "records": [], "confirmed_at": done, "claim": None}},
        )
        batch.status, batch.confirmed_at, batch.confirmed_by, batch.publish, batch.result = (
            BatchStatus.CONFIRMED, done, principal.username, options.publish, result,
        )
        return _batch_out(batch)


__all__ = ["UPLOAD_MAX_BYTES", "ImportController"]
