"""Uploaded imports waiting for confirmation (collection `import_batches`).

An editor uploads a file; the API parses it, runs a dry run and keeps the
parsed records together with the preview report in an `ImportBatch`. Only
on confirmation are the records written (from the stored records, so what
is written is exactly what was previewed). Previews expire after
`PREVIEW_TTL`.

Confirmation claims the batch with a compare-and-set on its status
(`catalogue.atomic`): of concurrent confirms exactly one runs. A run that
fails part-way marks the batch `failed` and can be confirmed again; the
runner derives the ids of new profiles from the batch id and record, so a
retry recognises what the failed run already wrote and stores one set of
profiles. A claim whose process died is taken over after `CLAIM_TTL`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from beanie import Document
from pydantic import Field
from pymongo import ASCENDING, DESCENDING, IndexModel

from catalogue.models import utcnow

PREVIEW_TTL = timedelta(hours=24)
CLAIM_TTL = timedelta(minutes=15)


class BatchStatus(StrEnum):
    PREVIEW = "preview"
    CONFIRMING = "confirming"  # claimed by one confirm request, running
    FAILED = "failed"  # a confirm failed part-way; may be confirmed again
    CONFIRMED = "confirmed"
    EXPIRED = "expired"


class ImportBatch(Document):
    owner: str
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime = Field(default_factory=lambda: utcnow() + PREVIEW_TTL)
    status: BatchStatus = BatchStatus.PREVIEW
    source_name: str
    format: str | None = None  # the importer that read the file
    size_bytes: int = 0
    records: list[dict[str, Any]] = Field(default_factory=list)  # serialised parsed records (importers.runner)
    preview: dict[str, Any] = Field(default_factory=dict)  # the dry-run report
    result: dict[str, Any] | None = None  # the report of the confirmed run
    confirmed_at: datetime | None = None
    confirmed_by: str | None = None
    claim: str | None = None  # id of the confirm run that holds the batch
    claimed_at: datetime | None = None
    error: str | None = None  # why the last confirm failed
    publish: bool = False
    merge: bool = False  # merge probable duplicates instead of skipping them

    class Settings:
        name = "import_batches"
        indexes = [
            IndexModel([("owner", ASCENDING), ("created_at", DESCENDING)], name="owner_created"),
        ]

    def is_expired(self, now: datetime | None = None) -> bool:
        now = now or utcnow()
        expires = self.expires_at if self.expires_at.tzinfo else self.expires_at.replace(tzinfo=now.tzinfo)
        return self.status == BatchStatus.PREVIEW and expires <= now

    def claim_is_stale(self, now: datetime | None = None) -> bool:
        """A confirm run that has held the batch for longer than CLAIM_TTL has died."""
        if self.status != BatchStatus.CONFIRMING or self.claimed_at is None:
            return False
        now = now or utcnow()
        claimed = self.claimed_at if self.claimed_at.tzinfo else self.claimed_at.replace(tzinfo=now.tzinfo)
        return claimed + CLAIM_TTL <= now
