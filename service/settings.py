"""The one settings object: everything configurable comes from the environment here."""

from __future__ import annotations

from functools import cache

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from service.domain.values import Role


class ApiKeyEntry(BaseModel):
    """Who a development API key stands for: municipality (tenant), agency and role."""

    municipality_id: str
    agency_id: str
    role: Role


# Public, well-known keys for `make run`, the README walk-through and the tests. They are stored
# hashed like any other key, and refused whenever `development_keys` is false.
DEVELOPMENT_API_KEYS: dict[str, ApiKeyEntry] = {
    "dev-municipality": ApiKeyEntry(
        municipality_id="demo-city", agency_id="demo-city-welfare", role=Role.municipality
    ),
    "dev-coordinator": ApiKeyEntry(
        municipality_id="demo-city", agency_id="demo-coordinator", role=Role.coordinator
    ),
    "dev-center": ApiKeyEntry(
        municipality_id="demo-city",
        agency_id="demo-general-support-center",
        role=Role.community_general_support_center,
    ),
    "dev-self-reliance": ApiKeyEntry(
        municipality_id="demo-city",
        agency_id="demo-self-reliance",
        role=Role.self_reliance_consultation,
    ),
    "dev-auditor": ApiKeyEntry(
        municipality_id="demo-city", agency_id="demo-audit", role=Role.auditor
    ),
}


class Settings(BaseSettings):
    """Kasane's configuration, read from `KASANE_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="KASANE_")

    database_url: str = Field(
        default="sqlite:///./kasane.db",
        description="SQLAlchemy URL; by default a SQLite file in the working directory.",
    )
    development_keys: bool = Field(
        default=True,
        description=(
            "Seed and accept the development API keys (DEVELOPMENT_API_KEYS); "
            "set false in production and create keys with `kasane apikeys create`"
        ),
    )
    db_pool_size: int = Field(
        # Requests run on up to 40 worker threads: a smaller pool reopens connections under load.
        default=20,
        description="Connections each instance keeps open (PostgreSQL; not SQLite)",
    )
    db_max_overflow: int = Field(
        default=20, description="Connections opened beyond the pool under load (PostgreSQL)"
    )
    db_pool_timeout_seconds: float = Field(
        default=30.0, description="Wait this long for a free pooled connection (PostgreSQL)"
    )
    db_statement_timeout_ms: int = Field(
        default=30_000,
        description="PostgreSQL `statement_timeout` of every connection; 0 turns it off",
    )
    db_connect_timeout_seconds: int = Field(
        default=10, description="Give up connecting to PostgreSQL after this many seconds"
    )
    db_sqlite_busy_timeout_ms: int = Field(
        default=5_000, description="SQLite: wait this long for another writer's lock"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    page_size_max: int = 200
    max_body_bytes: int = Field(
        default=1_000_000, description="Largest request body accepted (OWASP API4)"
    )
    feed_page_max_bytes: int = Field(
        default=1_048_576,
        ge=1,
        description="Largest page of GET /events, in bytes of its events as JSON; a page always "
        "holds at least one event",
    )
    rate_limit_per_minute: int = Field(
        default=1200,
        description="Requests per minute allowed to one credential (OWASP API4); 0 turns it off",
    )
    auth_failures_per_minute: int = Field(
        default=30,
        description="Refused credentials (401) per minute allowed from one client address before "
        "its requests are refused (429); 0 turns this off",
    )
    jwt_issuer: str | None = Field(default=None, description="Expected `iss` of bearer tokens")
    jwt_audience: str = Field(default="kasane", description="Expected `aud` of bearer tokens")
    jwks_file: str | None = Field(default=None, description="Path of a JWKS file of signing keys")
    jwks_url: str | None = Field(default=None, description="URL of the identity provider's JWKS")
    jwt_dev_hs256_secret: str | None = Field(
        default=None,
        description="Development only: accept HS256 tokens signed with this secret",
    )
    master_key: str | None = Field(
        default=None,
        description="Base64 of the 32-byte master key that wraps the per-person data keys",
    )
    idempotency_ttl_hours: int = Field(default=24, description="Hours an Idempotency-Key is kept")
    idempotency_lease_seconds: float = Field(
        default=10.0,
        description="How long a running keyed request holds its key: a retry after it runs again "
        "unless the first committed",
    )
    webhook_max_attempts: int = Field(
        default=8, description="Failed deliveries of one webhook event before it is dead-lettered"
    )
    webhook_backoff_base_seconds: float = Field(
        default=10.0, description="Webhook retry back-off: base × 2^attempts seconds"
    )
    webhook_backoff_max_seconds: float = Field(
        default=3600.0, description="Longest wait between two webhook delivery attempts"
    )
    webhook_timeout_seconds: float = Field(
        default=5.0, description="Timeout of one webhook delivery request"
    )
    webhook_dispatch_interval_seconds: float = Field(
        default=0.0,
        description=(
            "Run the webhook dispatcher in the server every this many seconds; "
            "0 (default) leaves it to `kasane webhooks dispatch`"
        ),
    )
    no_contact_days: int = Field(
        default=30,
        ge=1,
        description=(
            "Days without recorded contact with the person after which a case in support is "
            "listed as a suspension candidate (R-SUS-2); GET /worklists can ask for another number"
        ),
    )


@cache
def get_settings() -> Settings:
    """Return the settings of this process."""
    return Settings()
