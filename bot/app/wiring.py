"""How the bot's one dependency bundle is built from settings and the environment.

:func:`build_services` is the only constructor of :class:`bot.domain.services.Services`
the product uses: ``medcrypt-bot run`` (through :class:`bot.app.bot.BotApp`), ``jobs``,
``breakglass record-open``, the demo and the tests all come through it, so they open the
same audit log with the same checkpoint policy and signing key. :class:`SystemClock` is
the wall clock, read here at the edge and injected everywhere below.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import cast

from medcrypt.bot.adapters.channels import channels, parse_target
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.events import NoEvents, RelayEvents
from medcrypt.bot.domain.services import Services
from medcrypt.bot.keyproviders import open_provider
from medcrypt.bot.scheduler.listing import format_listing
from medcrypt.bot.scheduler.maintenance import queue_witness_lines
from medcrypt.crypto.clock import Clock
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.audit import Checkpoint, CheckpointSigner
from medcrypt.crypto.server.keyring import Keyring
from medcrypt.crypto.server.keytree import KeyTree
from medcrypt.crypto.server.provider import KeyProvider
from medcrypt.storage.audit import AuditLog
from medcrypt.storage.backup.erasure_record import ErasureRecord
from medcrypt.storage.db import Engine, Session, make_engine


class SystemClock:
    """The wall clock, timezone-aware UTC: the one the bot runs on outside tests."""

    def now(self) -> datetime:
        return datetime.now(UTC)


def audit_signer(settings: Settings, environ: Mapping[str, str] | None = None, *,
                 required: bool = False,
                 provider: KeyProvider | None = None) -> CheckpointSigner | None:
    """The checkpoint signer when configured (optional unless ``required``).

    With a key provider other than ``env`` the key stays in the provider (ADR 0033): the
    provider is opened and checked here - a PKCS#11 token without CKM_AES_GCM or
    CKM_EDDSA, a key that could be read out, or a token the provider refuses stops the
    bot at start - and the signer only ever holds its public key.
    """
    if settings.keys.provider != "env":
        if provider is None:
            provider = open_provider(settings, environ)
            provider.health()
        return CheckpointSigner.in_provider(provider)
    try:
        seed = settings.secret("audit.signing_key_env", environ=environ)
    except ConfigError:
        if required:
            raise
        return None
    return CheckpointSigner.from_b64(seed, name=settings.audit.signing_key_env)


def open_audit_log(
    settings: Settings, engine: Engine, *, clock: Clock | None = None,
    keyring: Keyring | None = None, environ: Mapping[str, str] | None = None,
    require_signer: bool = False,
    on_checkpoint: Callable[[Session, Checkpoint], None] | None = None,
    on_due: Callable[[], None] | None = None, signer: CheckpointSigner | None = None,
) -> AuditLog:
    """The audit log as configured: checkpoint policy, signing key, vacuum mode.

    ``keyring`` may be None for a verify-only log; ``on_checkpoint`` runs in every
    checkpoint's own transaction (witness lines into the outbox); ``on_due`` hears that
    N entries wait for the checkpointer (ADR 0036). With a keyring, its key tree is
    rooted in the configured provider first: the audit log's own keys are sealed under
    purpose DEKs of that tree (ADR 0037, Amendment 1).
    """
    if keyring is not None:
        attach_key_tree(settings, keyring, environ)
    return AuditLog(
        engine, keyring, clock=clock or SystemClock(),
        signer=signer or audit_signer(settings, environ, required=require_signer),
        checkpoint_every=settings.audit.checkpoint_every_entries,
        checkpoint_interval=timedelta(minutes=settings.audit.checkpoint_interval_minutes),
        postgres_vacuum=settings.database.postgres_vacuum, on_checkpoint=on_checkpoint,
        on_due=on_due)


def attach_key_tree(settings: Settings, keyring: Keyring,
                    environ: Mapping[str, str] | None = None) -> KeyProvider | None:
    """Root the keyring's key tree (docs/adr/0037) in the configured provider, opened
    and health-checked here; returns it (None for ``env``, whose tree the keyring's own
    keys root). The KEK is unwrapped once per replica per TTL, never per message."""
    if settings.keys.provider == "env":
        return None
    if isinstance(keyring.tree, KeyTree) and keyring.tree.provider_name != "env":
        return cast(KeyProvider, keyring.tree.root)
    provider = open_provider(settings, environ)
    provider.health()
    keyring.tree = KeyTree(provider, monotonic=time.monotonic,
                           ttl_seconds=settings.keys.kek_ttl_seconds)
    return provider


def build_services(
    settings: Settings, clock: Clock, *, environ: Mapping[str, str] | None = None,
    engine: Engine | None = None, keyring: Keyring | None = None,
    on_due: Callable[[], None] | None = None,
    events: RelayEvents | None = None,
) -> Services:
    """The bundle, the way every entry point builds it: engine, server keyring, audit log.

    The server keyring comes from the environment unless given; the engine is made from
    ``database.url`` unless given (the bot passes its own, tuned for the relay).
    ``events`` receives the relay's counts (the bot passes its metrics). Every
    checkpoint, whichever entry point signs it, queues its witness lines in its own
    transaction; ``on_due`` is the bot's checkpointer wake-up.
    """
    env = os.environ if environ is None else environ
    keyring = keyring or Keyring.from_environ(env, env_name=settings.keyring.server_keys_env)
    engine = engine or make_engine(settings.database_url)
    provider = attach_key_tree(settings, keyring, env)
    signer = audit_signer(settings, env, provider=provider)

    def witness(session: Session, checkpoint: Checkpoint) -> None:
        queue_witness_lines(services, session, checkpoint)  # bound below, before any use

    audit = open_audit_log(settings, engine, clock=clock, keyring=keyring, environ=env,
                           on_checkpoint=witness,
                           on_due=on_due, signer=signer)
    services = Services(
        settings=settings, engine=engine, clock=clock, keyring=keyring, audit=audit,
        channels=channels(settings, env), admin_target=parse_target, job_listing=format_listing,
        audit_public_keys={signer.key_id: signer.public_key} if signer is not None else {},
        erasure_record=(ErasureRecord(settings.backup.erasure_record_path, keyring)
                        if settings.backup.erasure_record_path else None),
        events=events or NoEvents())
    return services
