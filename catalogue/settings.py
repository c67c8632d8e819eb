"""Settings, read once from the environment and an optional .env file."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All configuration of Leuchtturm. Every field maps to LEUCHTTURM_<NAME>."""

    model_config = SettingsConfigDict(env_prefix="LEUCHTTURM_", env_file=".env", extra="ignore")

    mongodb_url: str | None = Field(default=None, description="MongoDB URL; empty runs the embedded FerretDB")
    mongodb_db: str = Field(default="leuchtturm", pattern=r"^[A-Za-z0-9_-]{1,60}$")
    meili_url: str | None = Field(default=None, description="Meilisearch URL; empty uses embedded Tantivy")
    meili_key: str | None = None
    meili_index: str = Field(default="profiles", pattern=r"^[A-Za-z0-9_-]{1,60}$", description="Meilisearch index of the profiles")
    data_dir: Path = Path("var")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    base_url: str | None = None
    secret_key: str | None = None
    demo_data: bool = True
    load_register: bool = Field(default=True, description="load the shipped municipality register on first start")
    ferretdb_bin: Path = PROJECT_ROOT / "bin" / "leuchtturm-ferretdb"
    max_body_bytes: int = 2 * 1024 * 1024
    secure_cookies: bool | None = None  # default: true when base_url is https
    # seconds after which another process takes the search sync over when its holder died
    sync_lease_s: float = Field(default=10.0, ge=1.0, le=300.0)
    # serving processes of `leuchtturm serve` (api/workers.py); default: one per core, at most 4
    workers: int | None = Field(default=None, ge=1, le=64)
    # Open data (exports, DCAT-AP.de description, feeds): who publishes the catalogue and under which licence.
    catalogue_title: str = Field(default="Leuchtturm – Katalog kommunaler Projekte", min_length=1, max_length=200)
    publisher_name: str = Field(
        default="Betreiber dieses Leuchtturm-Katalogs", min_length=1, max_length=200, description="dct:publisher of the catalogue"
    )
    publisher_url: str | None = Field(default=None, description="the publisher's web address; default: base_url")
    contact_email: str | None = Field(default=None, description="dcat:contactPoint e-mail; default: none (the contact is base_url)")
    contributor_id: str | None = Field(
        default=None,
        pattern=r"^https?://\S+$",
        description="dcatde:contributorID, an IRI from http://dcat-ap.de/def/contributors/ (ask GovData); default: none",
    )
    data_licence: str = Field(
        default="http://dcat-ap.de/def/licenses/cc-by/4.0",
        pattern=r"^https?://\S+$",
        description="licence of the exported profiles, a DCAT-AP.de licence URI",
    )
    data_attribution: str = Field(
        default="Leuchtturm – Katalog kommunaler Projekte", min_length=1, max_length=300, description="attribution text (CC BY)"
    )
    smtp_url: str | None = Field(
        default=None, description="smtp://benutzer:passwort@host:port (?starttls=true) oder smtps://…; leer: Mails nur ins Protokoll"
    )
    mail_from: str = "Leuchtturm <leuchtturm@localhost>"
    notifications: bool = Field(default=True, description="Benachrichtigungen senden und Erinnerungen/Wochenübersichten planen")
    trusted_proxies: str = Field(
        default="", description="addresses/networks (comma-separated) whose X-Forwarded-For is believed; default none"
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_parse(cls, v: str) -> str:
        import ipaddress

        for part in (v or "").replace(";", ",").split(","):
            if part.strip():
                try:
                    ipaddress.ip_network(part.strip(), strict=False)
                except ValueError:
                    raise ValueError(f"„{part.strip()}“ ist keine IP-Adresse und kein Netz (z. B. 10.0.0.0/8)") from None
        return v

    @field_validator(
        "mongodb_url", "meili_url", "meili_key", "base_url", "secret_key", "publisher_url", "contact_email", "contributor_id", "smtp_url",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, v: object) -> object:
        return None if isinstance(v, str) and not v.strip() else v

    @property
    def public_base_url(self) -> str:
        return (self.base_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def resolved_data_dir(self) -> Path:
        return self.data_dir.expanduser().resolve()

    def resolved_secret_key(self) -> str:
        """The configured secret key, or one generated once and kept in the data directory."""
        if self.secret_key:
            return self.secret_key
        path = self.resolved_data_dir / "secret_key"
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()

    @property
    def cookies_secure(self) -> bool:
        if self.secure_cookies is not None:
            return self.secure_cookies
        return self.public_base_url.startswith("https://")


class ConfigurationError(Exception):
    """A configuration the service refuses to start with (`leuchtturm serve` exits with code 2)."""


def check_startup(settings: Settings) -> None:
    """Refuse unsafe production configurations before anything starts."""
    if settings.public_base_url.startswith("https://") and not settings.secret_key:
        raise ConfigurationError(
            "LEUCHTTURM_SECRET_KEY fehlt: Mit einer https-Adresse (LEUCHTTURM_BASE_URL) startet der Dienst nur mit einem "
            "festen geheimen Schlüssel, z. B. aus `openssl rand -hex 32`."
        )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
