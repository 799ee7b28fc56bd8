"""Typed, validated bot configuration.

The file is TOML (read with :mod:`tomllib`) and is validated into frozen dataclasses
before anything else starts. Every problem - unreadable file, unknown key, wrong type,
out-of-range value, missing environment variable - becomes a :class:`ConfigError` that
names the dotted key, so the operator gets one line and exit status 2.

Secrets never sit in the file. Settings ending in ``_env`` hold the *name* of an
environment variable; :func:`Settings.secret` reads it at the moment of use.
"""

from __future__ import annotations

import os
import re
import tomllib
import types
import typing
from dataclasses import MISSING, dataclass, field, fields, is_dataclass
from datetime import date
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

from medcrypt.bot.domain.i18n import LANGUAGES
from medcrypt.crypto.errors import ConfigError


@dataclass(frozen=True)
class DatabaseSettings:
    #: SQLAlchemy URL. SQLite (default) or postgresql+psycopg://...
    url: str = "sqlite:///medcrypt.db"
    #: Name of an env var that, when set, overrides ``url`` (keeps passwords out of files).
    url_env: str = "MEDCRYPT_DATABASE_URL"
    #: On PostgreSQL, what the shred job runs after deleting: "none", "vacuum", "vacuum_full".
    postgres_vacuum: Literal["none", "vacuum", "vacuum_full"] = "vacuum"
    #: ``run`` upgrades the schema at start. Off: a schema behind stops ``run`` with one
    #: line (exit 6) until ``medcrypt-bot migrate`` ran - for several replicas, where
    #: one deliberate migration beats each replica racing to run it.
    migrate_at_start: bool = True


@dataclass(frozen=True)
class StartupSettings:
    """How ``run`` waits for the database and Telegram at start.

    A host that boots the bot and its database together, or loses the network for a
    minute, should not fail the start; a bot that can never connect should say so with
    one line instead of retrying for ever. Keep ``max_seconds`` inside systemd's
    ``TimeoutStartSec``.
    """

    #: Attempts for each of the database and Telegram before ``run`` gives up.
    attempts: int = 5
    #: Wait after the first failed attempt, seconds; doubled after each further one.
    backoff_seconds: float = 1.0
    #: Longest time spent waiting between attempts, in all, for each of them.
    max_seconds: float = 60.0


@dataclass(frozen=True)
class LoggingSettings:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: "auto": JSON when stderr is not a terminal, console format when it is.
    format: Literal["auto", "json", "console"] = "auto"


@dataclass(frozen=True)
class KeyringSettings:
    #: Env var holding "version:base64key,..." (32-byte keys); the highest version encrypts.
    server_keys_env: str = "MEDCRYPT_SERVER_KEYS"


@dataclass(frozen=True)
class Pkcs11Settings:
    #: Path of the HSM vendor's PKCS#11 module (SoftHSM2: /usr/lib/softhsm/libsofthsm2.so).
    module: str = ""
    token_label: str = "medcrypt"
    #: Env var holding the token's user PIN.
    pin_env: str = "MEDCRYPT_PKCS11_PIN"


@dataclass(frozen=True)
class TransitSettings:
    url: str = "https://127.0.0.1:8200"
    mount: str = "transit"
    #: Env var holding the bot's token (policy: encrypt, decrypt, sign, read public key).
    token_env: str = "MEDCRYPT_TRANSIT_TOKEN"
    #: Env var holding the operator's token, read only by `keys` commands that rotate.
    admin_token_env: str = "MEDCRYPT_TRANSIT_ADMIN_TOKEN"
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class KmsSettings:
    region: str = ""
    #: Empty: AWS itself. Set only for a KMS-compatible endpoint.
    endpoint_url: str = ""
    max_attempts: int = 3
    timeout_seconds: float = 5.0


@dataclass(frozen=True)
class KeysSettings:
    """Where the root (wrapping) and audit checkpoint keys live (ADR 0033)."""

    provider: Literal["env", "pkcs11", "transit", "kms"] = "env"
    #: Prefix of the key labels, Transit key names and KMS aliases.
    key_prefix: str = "medcrypt"
    #: How long a replica keeps the unwrapped epoch KEK (and DEKs opened under it)
    #: before it is zeroed and asked of the provider again (docs/adr/0037).
    kek_ttl_seconds: float = 3600.0
    #: Days a shred epoch lasts (at most 30): the key_epoch job then closes it - a new
    #: KEK, every live DEK rewrapped, the old root version destroyed (docs/adr/0039).
    #: Also the restore window, and the longest an erasure takes to reach the backups.
    shred_epoch_days: int = 30
    pkcs11: Pkcs11Settings = field(default_factory=Pkcs11Settings)
    transit: TransitSettings = field(default_factory=TransitSettings)
    kms: KmsSettings = field(default_factory=KmsSettings)


#: What a configured admin person's handle may look like (it names them in the
#: environment's WhatsApp list and in error messages; it is never stored).
ADMIN_HANDLE = re.compile(r"[a-z][a-z0-9_-]{0,31}\Z")


@dataclass(frozen=True)
class AdminPersonSettings:
    """One clinic admin *person* and the identities that are theirs.

    Two identities of one person are one admin: break-glass needs a second person, so
    the configuration has to say which identities belong together. WhatsApp numbers are
    personal data and stay in the environment, where ``<handle>=<number>`` joins one to
    the person with that handle.
    """

    #: A short label for the person (not their name): lowercase letters, digits, - and _.
    handle: str = ""
    #: The person's Telegram user ids.
    telegram_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class ClinicSettings:
    name: str = "MedCrypt Clinic"
    #: Clinic escrow X25519 public key (base64url, 32 bytes) from `medcrypt-bot escrow init`.
    escrow_public_key: str = ""
    #: Clinic admins as people, each with every identity that is theirs.
    admins: list[AdminPersonSettings] = field(default_factory=list)
    #: Shorthand: Telegram user ids of admins who each have this one identity only.
    admin_telegram_ids: list[int] = field(default_factory=list)
    #: Env var holding comma-separated WhatsApp numbers of admins (numbers are PII):
    #: ``<handle>=<number>`` for a number of a person in ``admins``, a bare number for an
    #: admin who has this one identity only.
    admin_whatsapp_numbers_env: str = "MEDCRYPT_ADMIN_WHATSAPP"
    #: Said with every "not sent: this chat only carries encrypted messages" reply: a
    #: patient who types "I have chest pain" must learn where to turn, not only that the
    #: text was not sent. One line of printable text.
    emergency_text: str = ("If this is an emergency, do not wait for an answer here: call "
                           "your local emergency services now.")
    #: The number to call, said after ``emergency_text`` ("" says none): digits, spaces,
    #: ``+ - ( )``, e.g. "911" or "+52 55 5658 1111".
    emergency_number: str = ""
    #: The language of replies to a person whose platform says none (every WhatsApp user,
    #: a Telegram user whose app language the bot does not ship) until they choose one
    #: with /language: a code of :data:`bot.domain.i18n.LANGUAGES` ("en" or "es_MX").
    default_language: str = "en"
    #: ``emergency_text`` per language, e.g. ``es_MX = "Si es una emergencia, ..."``
    #: (``[clinic.emergency_text_by_language]``); a language not listed says
    #: ``emergency_text``. Each value is held to ``emergency_text``'s rules.
    emergency_text_by_language: dict[str, str] = field(default_factory=dict)

    def emergency_text_for(self, language: str) -> str:
        """The emergency wording to tell someone whose replies are in ``language``."""
        return self.emergency_text_by_language.get(language, self.emergency_text)


#: A phone number as people write it: at least two digits, at most 20 characters.
EMERGENCY_NUMBER = re.compile(r"\+?\(?[0-9][0-9 ()-]{0,17}[0-9]\Z")
#: Longest ``clinic.emergency_text``: the reply it joins stays one short message.
MAX_EMERGENCY_TEXT = 300


@dataclass(frozen=True)
class TelegramSettings:
    enabled: bool = True
    token_env: str = "TELEGRAM_BOT_TOKEN"
    #: Bot API base URL; point at a local Bot API server or the sandbox.
    api_base_url: str = "https://api.telegram.org/bot"
    api_file_url: str = "https://api.telegram.org/file/bot"
    mode: Literal["polling", "webhook"] = "polling"
    #: Public HTTPS URL Telegram posts updates to (webhook mode).
    webhook_url: str = ""
    #: Env var with the secret Telegram echoes in X-Telegram-Bot-Api-Secret-Token.
    webhook_secret_env: str = "TELEGRAM_WEBHOOK_SECRET"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8443
    #: Longest text message the platform accepts, in characters.
    max_message_chars: int = 4096
    #: URL path the webhook server listens on (webhook mode).
    webhook_path: str = "telegram"
    #: Connect/read/write timeout of each Bot API call, seconds.
    request_timeout_seconds: float = 10.0
    #: Long-polling timeout of getUpdates, seconds.
    poll_timeout_seconds: int = 10
    #: Concurrent HTTP connections for sending (the outbox sends chats in parallel).
    connection_pool_size: int = 32
    #: Global send pacing (Telegram asks bots to stay under ~30 messages/s); 0 = off.
    global_messages_per_second: float = 30.0
    #: Largest webhook request body read (webhook mode); larger ones get 413 unread.
    webhook_max_body_bytes: int = 1024 * 1024
    #: Largest file a bot may download (the Bot API's getFile answers "file is too big"
    #: above 20 MB); larger ones are refused unread, naming this limit.
    max_download_bytes: int = 20 * 1024 * 1024
    #: Largest file a bot may upload with sendDocument (50 MB).
    max_upload_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True)
class WhatsAppSettings:
    enabled: bool = True
    account_sid_env: str = "TWILIO_ACCOUNT_SID"
    auth_token_env: str = "TWILIO_AUTH_TOKEN"
    #: Env var with the clinic's sending address, e.g. "whatsapp:+14155238886".
    from_number_env: str = "TWILIO_WHATSAPP_FROM"
    api_base_url: str = "https://api.twilio.com"
    #: The URL Twilio is configured to call, exactly; signatures are checked against it,
    #: never against the request's own URL (proxies rewrite scheme, host and port).
    public_url: str = "https://bot.example.org"
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    #: Content SID of the approved PHI-free template sent outside the 24-hour window.
    template_content_sid: str = ""
    max_message_chars: int = 1600
    #: Largest WhatsApp attachment through Twilio, both ways ("under 16 MB" for a whole
    #: WhatsApp message, Twilio's media guidance): counted in decimal megabytes, so a
    #: file that fits here fits however Twilio counts.
    max_media_bytes: int = 16_000_000
    #: Lifetime of the unguessable media URLs serving encrypted attachments.
    media_url_ttl_seconds: int = 3600
    #: Timeout of each Twilio REST call, seconds.
    request_timeout_seconds: float = 10.0
    #: Send pacing for the account's messages-per-second (Twilio default 80); 0 = off.
    global_messages_per_second: float = 80.0
    #: Webhook paths (appended to public_url when validating signatures).
    inbound_path: str = "/twilio/inbound"
    status_path: str = "/twilio/status"
    media_path: str = "/media"
    #: Largest request body the webhook server reads (Twilio's forms are a few KiB);
    #: larger ones get 413 before anything else looks at them.
    max_body_bytes: int = 64 * 1024


@dataclass(frozen=True)
class RelaySettings:
    #: The clinic's own cap on a relayed file, on top of each platform's limits
    #: (``telegram.max_download_bytes``, ``whatsapp.max_media_bytes``...).
    max_file_bytes: int = 50 * 1024 * 1024
    #: Messages a user may send per minute before getting a polite refusal.
    user_messages_per_minute: int = 30
    outbox_max_attempts: int = 12
    outbox_base_backoff_seconds: float = 1.0
    outbox_max_backoff_seconds: float = 900.0
    #: Relay v1 tokens? Off: their header exposes the patient id.
    relay_v1_tokens: bool = False
    #: How long a claimed outbox row stays claimed; must exceed the platforms' request
    #: timeouts. After it expires the row is "in doubt" and recovered (docs/DELIVERY.md).
    outbox_lease_seconds: float = 30.0
    #: Rows sent in parallel by one worker.
    outbox_concurrency: int = 16
    #: v2 MESSAGE and ESCROW_DEPOSIT tokens are refused for every month that starts on
    #: or after this date (YYYY-MM-DD, UTC); earlier v2 months stay relayed until they
    #: are shredded. v3 pairings never carry v2 at all (docs/OPERATIONS.md, ADR 0026).
    v2_cutoff_date: str = "2027-07-01"

    @property
    def v2_refused_from_epoch(self) -> int:
        """The first month (epoch) that starts on or after ``v2_cutoff_date``."""
        day = date.fromisoformat(self.v2_cutoff_date)
        epoch = (day.year - 1970) * 12 + day.month - 1
        return epoch if day.day == 1 else epoch + 1


@dataclass(frozen=True)
class ScheduleSettings:
    #: Cron expression (UTC) for the monthly rotation.
    rotation_cron: str = "0 0 1 * *"
    shred_interval_minutes: int = 60
    grace_days: int = 7
    timezone: Literal["UTC"] = "UTC"


@dataclass(frozen=True)
class AuditSettings:
    #: Env var holding the base64 Ed25519 seed that signs checkpoints.
    signing_key_env: str = "MEDCRYPT_AUDIT_SIGNING_KEY"
    checkpoint_every_entries: int = 1000
    checkpoint_interval_minutes: int = 60
    post_checkpoints_to_admins: bool = True


@dataclass(frozen=True)
class BreakGlassSettings:
    approval_window_minutes: int = 60


@dataclass(frozen=True)
class BackupSettings:
    #: Append-only file of every shred and erasure, kept OUTSIDE the backup set (another
    #: disk or mount than the database and its backups); ``backup`` refuses to run
    #: without it, since a restore could not re-apply shreds (docs/adr/0016).
    erasure_record_path: str = ""
    #: Where ``pg_dump``/``pg_restore`` are looked for besides PATH (PostgreSQL only).
    pg_bin_dir: str = ""


@dataclass(frozen=True)
class MonitoringSettings:
    """The loopback listener for /healthz, /readyz and /metrics (docs/OPERATIONS.md)."""

    enabled: bool = True
    #: Keep it on loopback: the endpoints carry no personal data, but operational
    #: counts are still nobody else's business; scrape through a local agent or proxy.
    listen_host: str = "127.0.0.1"
    #: 0 binds any free port (tests); the bound port is logged at start.
    listen_port: int = 9464
    #: How often the readiness probe checks the database and refreshes the gauges.
    probe_interval_seconds: float = 15.0


@dataclass(frozen=True)
class Settings:
    database: DatabaseSettings = field(default_factory=DatabaseSettings)
    logging: LoggingSettings = field(default_factory=LoggingSettings)
    keyring: KeyringSettings = field(default_factory=KeyringSettings)
    keys: KeysSettings = field(default_factory=KeysSettings)
    clinic: ClinicSettings = field(default_factory=ClinicSettings)
    telegram: TelegramSettings = field(default_factory=TelegramSettings)
    whatsapp: WhatsAppSettings = field(default_factory=WhatsAppSettings)
    relay: RelaySettings = field(default_factory=RelaySettings)
    schedule: ScheduleSettings = field(default_factory=ScheduleSettings)
    audit: AuditSettings = field(default_factory=AuditSettings)
    breakglass: BreakGlassSettings = field(default_factory=BreakGlassSettings)
    backup: BackupSettings = field(default_factory=BackupSettings)
    monitoring: MonitoringSettings = field(default_factory=MonitoringSettings)
    startup: StartupSettings = field(default_factory=StartupSettings)

    def secret(self, env_key_path: str, *, environ: typing.Mapping[str, str] | None = None) -> str:
        """Read the secret named by the ``*_env`` setting at ``env_key_path``.

        Raises :class:`ConfigError` naming both the setting and the variable when unset,
        so "missing env var" is as clear as "wrong type".
        """
        env = os.environ if environ is None else environ
        section, _, name = env_key_path.partition(".")
        var = getattr(getattr(self, section), name)
        value = env.get(var, "")
        if not value:
            raise ConfigError(env_key_path, f"environment variable {var} is not set")
        return value

    @property
    def database_url(self) -> str:
        return os.environ.get(self.database.url_env) or self.database.url


#: Smallest accepted body cap: a 1,600-character WhatsApp message of non-ASCII text is
#: ~14 KiB as Twilio's percent-encoded form, and a Telegram update is larger still.
MIN_BODY_CAP_BYTES = 16 * 1024


def _check_type(key: str, value: Any, annotation: Any) -> Any:
    origin = get_origin(annotation)
    if origin is Literal:
        allowed = get_args(annotation)
        if value not in allowed:
            raise ConfigError(key, f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")
        return value
    if origin is dict:  # a table of plain values, e.g. [clinic.emergency_text_by_language]
        _key_type, inner = get_args(annotation)
        if not isinstance(value, dict):
            raise ConfigError(key, f"must be a table, got {type(value).__name__}")
        return {k: _check_type(f"{key}.{k}", v, inner) for k, v in value.items()}
    if origin is list:
        (inner,) = get_args(annotation)
        if not isinstance(value, list):
            raise ConfigError(key, f"must be a list, got {type(value).__name__}")
        if is_dataclass(inner):  # an array of tables, e.g. [[clinic.admins]]
            return [_build(inner, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return [_check_type(f"{key}[{i}]", v, inner) for i, v in enumerate(value)]
    if origin in (typing.Union, types.UnionType):
        raise TypeError("unions are not used in settings")  # pragma: no cover
    if annotation is bool:
        if not isinstance(value, bool):
            raise ConfigError(key, f"must be true or false, got {type(value).__name__}")
        return value
    if annotation is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(key, f"must be an integer, got {type(value).__name__}")
        if value < 0:
            raise ConfigError(key, "must not be negative")
        return value
    if annotation is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(key, f"must be a number, got {type(value).__name__}")
        if value < 0:
            raise ConfigError(key, "must not be negative")
        return float(value)
    if annotation is str:
        if not isinstance(value, str):
            raise ConfigError(key, f"must be a string, got {type(value).__name__}")
        return value
    raise TypeError(f"unsupported setting type {annotation!r}")  # pragma: no cover


def _build(cls: Any, data: Any, prefix: str) -> Any:
    if not isinstance(data, dict):
        raise ConfigError(prefix or "<root>", "must be a table")
    hints = typing.get_type_hints(cls)
    known = {f.name: f for f in fields(cls)}
    for name in data:
        if name not in known:
            where = f"{prefix}.{name}" if prefix else name
            raise ConfigError(where, "unknown setting (see config.example.toml)")
    kwargs: dict[str, Any] = {}
    for name, f in known.items():
        key = f"{prefix}.{name}" if prefix else name
        annotation = hints[name]
        if name not in data:
            continue
        if is_dataclass(annotation):
            kwargs[name] = _build(annotation, data[name], key)
        else:
            kwargs[name] = _check_type(key, data[name], annotation)
        if f.default is MISSING and f.default_factory is MISSING:  # pragma: no cover
            raise TypeError(f"setting {key} needs a default")
    return cls(**kwargs)


def _semantic_checks(s: Settings) -> None:
    for section in ("telegram", "whatsapp"):
        port = getattr(s, section).listen_port
        if not 1 <= port <= 65535:
            raise ConfigError(f"{section}.listen_port", "must be between 1 and 65535")
    if s.monitoring.listen_port > 65535:
        raise ConfigError("monitoring.listen_port", "must be between 0 and 65535")
    taken = {s.whatsapp.listen_port} if s.whatsapp.enabled else set()
    if s.telegram.enabled and s.telegram.mode == "webhook":
        taken.add(s.telegram.listen_port)
    if s.monitoring.enabled and s.monitoring.listen_port in taken:
        raise ConfigError("monitoring.listen_port", "is a webhook listener's port; the "
                          "monitoring endpoints need a listener of their own")
    if s.monitoring.probe_interval_seconds <= 0:
        raise ConfigError("monitoring.probe_interval_seconds", "must be greater than zero")
    for key, url in (("telegram.api_base_url", s.telegram.api_base_url),
                     ("telegram.api_file_url", s.telegram.api_file_url),
                     ("whatsapp.api_base_url", s.whatsapp.api_base_url),
                     ("whatsapp.public_url", s.whatsapp.public_url)):
        if not url.startswith(("http://", "https://")):
            raise ConfigError(key, "must be an http:// or https:// URL")
    if s.telegram.mode == "webhook" and not s.telegram.webhook_url.startswith("https://"):
        raise ConfigError("telegram.webhook_url", "webhook mode needs a public https:// URL")
    if not s.database.url.startswith(("sqlite:", "postgresql")):
        raise ConfigError("database.url", "must be a sqlite:/// or postgresql+psycopg:// URL")
    if s.schedule.grace_days < 1:
        raise ConfigError("schedule.grace_days", "must be at least 1")
    if len(s.schedule.rotation_cron.split()) != 5:
        raise ConfigError("schedule.rotation_cron", "must be a five-field cron expression")
    for key, value in (("telegram.request_timeout_seconds", s.telegram.request_timeout_seconds),
                       ("whatsapp.request_timeout_seconds", s.whatsapp.request_timeout_seconds)):
        if value <= 0:
            raise ConfigError(key, "must be greater than zero")
    if s.relay.outbox_lease_seconds <= max(s.telegram.request_timeout_seconds,
                                           s.whatsapp.request_timeout_seconds):
        raise ConfigError("relay.outbox_lease_seconds",
                          "must be longer than both platforms' request timeouts")
    if s.relay.outbox_concurrency < 1 or s.telegram.connection_pool_size < 1:
        raise ConfigError("relay.outbox_concurrency", "must be at least 1")
    try:
        date.fromisoformat(s.relay.v2_cutoff_date)
    except ValueError:
        raise ConfigError("relay.v2_cutoff_date", "must be a date, YYYY-MM-DD") from None
    for key, path in (("whatsapp.inbound_path", s.whatsapp.inbound_path),
                      ("whatsapp.status_path", s.whatsapp.status_path),
                      ("whatsapp.media_path", s.whatsapp.media_path)):
        if not path.startswith("/"):
            raise ConfigError(key, "must start with /")
    if s.telegram.max_message_chars < 200 or s.whatsapp.max_message_chars < 200:
        raise ConfigError("*.max_message_chars", "must be at least 200 characters")
    for key, cap in (("telegram.webhook_max_body_bytes", s.telegram.webhook_max_body_bytes),
                     ("whatsapp.max_body_bytes", s.whatsapp.max_body_bytes)):
        if cap < MIN_BODY_CAP_BYTES:
            raise ConfigError(key, f"must be at least {MIN_BODY_CAP_BYTES} bytes "
                                   "(smaller refuses genuine platform requests)")
    if s.startup.attempts < 1:
        raise ConfigError("startup.attempts", "must be at least 1")
    _check_keys(s.keys)
    _check_admins(s.clinic)
    _check_emergency(s.clinic)


def _check_emergency(clinic: ClinicSettings) -> None:
    """The emergency wording is one printable line in every language, the languages are
    ones the bot ships, and the number looks like one: a typo here would reach every
    patient who types instead of using the companion."""
    shipped = ", ".join(LANGUAGES)
    if clinic.default_language not in LANGUAGES:
        raise ConfigError("clinic.default_language", f"must be one of {shipped}")
    texts = {"clinic.emergency_text": clinic.emergency_text}
    for language, text in clinic.emergency_text_by_language.items():
        where = f"clinic.emergency_text_by_language.{language}"
        if language not in LANGUAGES:
            raise ConfigError(where, f"names no shipped language (one of {shipped})")
        texts[where] = text
    for where, text in texts.items():
        if not text.strip() or len(text) > MAX_EMERGENCY_TEXT or not text.isprintable():
            raise ConfigError(where, f"must be one line of 1-{MAX_EMERGENCY_TEXT} "
                              "printable characters")
    if clinic.emergency_number and not EMERGENCY_NUMBER.match(clinic.emergency_number):
        raise ConfigError("clinic.emergency_number", "must be a phone number: digits, "
                          "spaces, + - ( ), 2-20 characters (or empty)")


def _check_keys(keys: KeysSettings) -> None:
    """The chosen provider's own settings are present (the others may stay default)."""
    if not re.fullmatch(r"[a-z][a-z0-9-]{0,31}", keys.key_prefix):
        raise ConfigError("keys.key_prefix", "must be 1-32 lower-case letters, digits, -")
    if keys.provider == "pkcs11" and not keys.pkcs11.module:
        raise ConfigError("keys.pkcs11.module", "the pkcs11 provider needs the module path")
    if keys.provider == "transit" and not keys.transit.url.startswith(("http://", "https://")):
        raise ConfigError("keys.transit.url", "must be an http:// or https:// URL")
    if keys.provider == "kms" and not keys.kms.region:
        raise ConfigError("keys.kms.region", "the kms provider needs a region")
    if keys.kms.max_attempts < 1:
        raise ConfigError("keys.kms.max_attempts", "must be at least 1")
    if not 1 <= keys.kek_ttl_seconds <= 86_400:
        raise ConfigError("keys.kek_ttl_seconds", "must be between 1 and 86400 seconds")
    if not 1 <= keys.shred_epoch_days <= 30:
        raise ConfigError("keys.shred_epoch_days", "must be between 1 and 30 days")


def _check_admins(clinic: ClinicSettings) -> None:
    """Every admin person has a unique, well-formed handle, and no Telegram id is listed
    twice: an identity in two persons would make one person count as two."""
    handles: set[str] = set()
    telegram_ids: set[int] = set(clinic.admin_telegram_ids)
    if len(telegram_ids) != len(clinic.admin_telegram_ids):
        raise ConfigError("clinic.admin_telegram_ids", "lists a Telegram id twice")
    for i, person in enumerate(clinic.admins):
        key = f"clinic.admins[{i}]"
        if not ADMIN_HANDLE.match(person.handle):
            raise ConfigError(f"{key}.handle", "must be 1-32 lowercase letters, digits, - "
                              "or _, starting with a letter")
        if person.handle in handles:
            raise ConfigError(f"{key}.handle", f"{person.handle!r} names two admins")
        handles.add(person.handle)
        for telegram_id in person.telegram_ids:
            if telegram_id in telegram_ids:
                raise ConfigError(f"{key}.telegram_ids", "lists a Telegram id that another "
                                  "admin entry lists too (one identity, one person)")
            telegram_ids.add(telegram_id)


def parse_settings(data: dict[str, Any]) -> Settings:
    """Validate an already-parsed TOML document."""
    settings: Settings = _build(Settings, data, "")
    _semantic_checks(settings)
    return settings


def load_settings(path: str | Path | None) -> Settings:
    """Load and validate a config file; ``None`` means the embedded defaults."""
    if path is None:
        return parse_settings({})
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise ConfigError(str(p), f"cannot read file ({exc.strerror or exc})") from None
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(str(p), "not UTF-8 text") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(p), f"not valid TOML ({exc})") from None
    return parse_settings(data)
