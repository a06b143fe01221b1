"""Settings, read once from the environment (prefix EVIDEX_) by whoever builds the app or CLI."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

INSECURE_SECRET = "changethis"
# Secrets production refuses (compared after strip, in any case): the defaults of templates and guides.
KNOWN_DEFAULT_SECRETS = frozenset({
    INSECURE_SECRET, "changeme", "change-me", "change_me", "secret", "secretkey", "secret_key", "secret-key",
    "password", "passw0rd", "default", "evidex", "admin", "test", "example", "1234567890", "12345678",
    "your-secret-key", "yoursecretkey", "insecure", "development", "dev", "xxx"})
MIN_SECRET_BYTES = 32


def data_home() -> Path:
    """The user's data folder for evidex (XDG), where the default SQLite file lives."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "evidex"


def default_database_url() -> str:
    return f"sqlite:///{data_home() / 'evidex.db'}"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="EVIDEX_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(default_factory=default_database_url)
    node_party: str = Field(default="RS", pattern=r"^[A-Z]{2}$", description="The Party this node serves")
    evidence_dir: Path = Field(default_factory=lambda: data_home() / "evidence")
    # Payloads over 64 KiB received from other nodes, one file each (exchange/spool.py); back it up
    # with the database.
    spool_dir: Path = Field(default_factory=lambda: data_home() / "spool")
    # Received payloads stored in clear before encryption at rest (exchange/sealed.py) are still read; set
    # false once `evidex evidence rewrap` has sealed them all, so one an insider replaced by clear text is refused.
    accept_plaintext_payloads: bool = True
    evidence_url: str | None = None  # s3://bucket/prefix for object storage (AWS_* settings for endpoint, keys)
    secret_key: SecretStr = SecretStr(INSECURE_SECRET)
    # Secrets replaced by a rotation: their evidence keys still unwrap until `evidex evidence rewrap` has run.
    previous_secret_keys: list[SecretStr] = []
    session_minutes: int = Field(default=480, gt=0, le=7 * 24 * 60)
    # The dashboard's planning horizon: deadlines due within this many days are listed (a desk's
    # choice, not a treaty period).
    dashboard_horizon_days: int = Field(default=7, ge=1, le=90)
    parties_file: Path | None = None  # Party profiles replacing the shipped (example) set
    node_dir: Path = Field(default_factory=lambda: data_home() / "node")  # keys from `evidex node init`
    node_key_passphrase: SecretStr | None = None  # opens the node's private keys (federation)
    # Requests served at once in worker threads (the rest wait their turn in the event loop): more
    # threads than cores only make them fight over the interpreter lock (bench/api_bench.py).
    api_threads: int = Field(default=8, ge=1, le=256)
    # Login attempts allowed per account and per client address in each window (429 beyond; shared
    # by every process through the database).
    login_limit_per_account: int = Field(default=10, ge=1)
    login_limit_per_address: int = Field(default=30, ge=1)
    login_limit_window_seconds: int = Field(default=60, ge=1, le=86_400)
    # Documents verified on the public page (/verify, no sign-in) per client address in that same window.
    verify_limit_per_address: int = Field(default=20, ge=1)
    # argon2 parameters of new password hashes (a hash keeps its own; verification follows it). "cheapest"
    # is argon2-cffi's profile for test suites (a hash in microseconds instead of 0.2 s of CPU); production
    # refuses it.
    password_hash_profile: Literal["rfc9106_low_memory", "cheapest"] = "rfc9106_low_memory"
    api_token_days: int = Field(default=90, ge=1, le=366)  # lifetime of a new API token unless asked shorter
    # The worker signs the audit chain's head (when it moved) at most this often; `evidex audit verify` always.
    audit_sign_minutes: int = Field(default=10, ge=1, le=24 * 60)
    # The edge (api/edge.py). Largest JSON body of the API; evidence and federation routes have their own limits.
    max_body_bytes: int = Field(default=1024 * 1024, ge=1024, le=64 * 1024 * 1024)
    # A request body must arrive within this many seconds, plus its size at the rate below (else 408, connection closed).
    body_timeout_seconds: float = Field(default=30.0, gt=0, le=3600)
    body_min_bytes_per_second: int = Field(default=64 * 1024, ge=1024)  # the slowest link a large body may use
    # Open connections per server process (`serve`); beyond it a request is answered 503 at once.
    max_connections: int = Field(default=512, ge=16, le=65536)
    https: bool = False  # served over HTTPS (set by `serve --tls`, or behind a TLS proxy): answers carry HSTS
    public_api_docs: bool = False  # production: /docs, /redoc and /openapi.json open without a Bearer token
    # Evidence limits (issue 12): the largest file one may declare, and the sum of the declared sizes
    # of a request's live (not disposed, not abandoned) files; both refused at the start of an upload.
    max_evidence_bytes: int = Field(default=64 << 30, gt=0, le=1 << 40)
    request_evidence_quota_bytes: int = Field(default=256 << 30, gt=0, le=1 << 52)
    upload_idle_hours: float = Field(default=24.0, gt=0)  # an upload with no chunk for this long is abandoned
    # Bytes one peer's received payloads may occupy in the spool (orphans count until swept); over it,
    # a batch is answered 503 with Retry-After and nothing is kept.
    spool_peer_quota_bytes: int = Field(default=4 << 30, gt=0)
    # Package chunks accepted per second from one peer (token bucket, per server process), and the burst.
    package_chunk_rate: float = Field(default=50.0, gt=0)
    package_chunk_burst: int = Field(default=100, ge=1)

    @field_validator("database_url", mode="before")
    @classmethod
    def _blank_means_default(cls, v: object) -> object:
        return default_database_url() if isinstance(v, str) and not v.strip() else v

    @model_validator(mode="after")
    def _no_weak_secret_in_production(self) -> Settings:
        if self.environment == "production" and self.password_hash_profile != "rfc9106_low_memory":
            raise ValueError(f"EVIDEX_PASSWORD_HASH_PROFILE={self.password_hash_profile} is for test suites; "
                             "production hashes passwords with rfc9106_low_memory (the default)")
        if self.environment == "production":
            secret = self.secret_key.get_secret_value()
            if secret.strip().lower() in KNOWN_DEFAULT_SECRETS:
                raise ValueError("EVIDEX_SECRET_KEY is a well-known default value; production needs a random secret "
                                 "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)")
            if len(secret.strip().encode()) < MIN_SECRET_BYTES:
                raise ValueError(f"EVIDEX_SECRET_KEY is shorter than {MIN_SECRET_BYTES} bytes; production needs a "
                                 "random secret of 32 bytes or more")
        return self

    @property
    def environment_unset(self) -> bool:
        """EVIDEX_ENVIRONMENT was not given: development defaults (and the default secret) in force."""
        return "environment" not in self.model_fields_set
