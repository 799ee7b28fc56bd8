"""``medcrypt-bot keys provider init|status|rotate|destroy``: the configured key provider.

``init`` creates what the provider lacks (PKCS#11: root v1 and the Ed25519 checkpoint key
pair on the token; KMS: root v1's key and alias, the Ed25519 checkpoint key; Transit: the
mount, both keys, the bot's policy, and a new bot token printed once). ``status`` is the
bot's start-up check: it reaches the provider, finds both keys and (PKCS#11) both
mechanisms and that no key can be read out, and prints the checkpoint public key for
the auditors. ``rotate`` and ``destroy`` need the operator's credentials (Transit: the
admin token); the bot's own are refused them. See docs/OPERATIONS.md "Key providers".
"""

from __future__ import annotations

import argparse
import base64
import os
from typing import Any

from medcrypt.bot.domain.config import Settings
from medcrypt.bot.keyproviders import open_provider
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.audit.checkpoint import AuditPublicKey, key_id_of


def register(sub: Any) -> None:
    p = sub.add_parser("provider", help="the key provider: init, status, rotate, destroy")
    ps = p.add_subparsers(dest="provider_command", metavar="ACTION", required=True)
    for name, helptext, handler in (
            ("init", "create the root and checkpoint keys the provider lacks", run_init),
            ("status", "reach the provider, check its keys, print the checkpoint public key",
             run_status),
            ("rotate", "make a new root version current (operator credentials)", run_rotate)):
        c = ps.add_parser(name, help=helptext)
        c.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                       help="TOML config file (also accepted before the command)")
        c.set_defaults(handler=handler)
    d = ps.add_parser("destroy", help="destroy the oldest root version for good "
                                      "(operator credentials)")
    d.add_argument("--config", default=argparse.SUPPRESS, metavar="FILE",
                   help="TOML config file (also accepted before the command)")
    d.add_argument("--version", type=int, required=True, help="the oldest root version")
    d.add_argument("--yes", action="store_true", help="values wrapped under it are lost")
    d.set_defaults(handler=run_destroy)


def run_init(args: argparse.Namespace, settings: Settings) -> int:
    keys = settings.keys
    if keys.provider == "env":
        print("provider env: nothing to create (keys generate prints a root key)")
        return 0
    if keys.provider == "pkcs11":
        from medcrypt.bot.keyproviders import env_secret
        from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider

        pin = env_secret(os.environ, "keys.pkcs11.pin_env", keys.pkcs11.pin_env)
        Pkcs11Provider(keys.pkcs11.module, keys.pkcs11.token_label, pin,
                       prefix=keys.key_prefix, create=True).close()
    elif keys.provider == "kms":
        from medcrypt.bot.keyproviders.kms import KmsProvider

        kms = KmsProvider(region=keys.kms.region, prefix=keys.key_prefix,
                          endpoint_url=keys.kms.endpoint_url or None,
                          max_attempts=keys.kms.max_attempts, timeout=keys.kms.timeout_seconds)
        try:
            kms.provision()
        finally:
            kms.close()
    else:
        from medcrypt.bot.keyproviders import env_secret
        from medcrypt.bot.keyproviders.transit import provision as transit_provision

        admin = env_secret(os.environ, "keys.transit.admin_token_env",
                        keys.transit.admin_token_env)
        token = transit_provision(keys.transit.url, admin, mount=keys.transit.mount,
                                  prefix=keys.key_prefix)
        print(f"bot token (set it in {keys.transit.token_env}; shown once): {token}")
    return run_status(args, settings)


def run_status(args: argparse.Namespace, settings: Settings) -> int:
    provider = open_provider(settings)
    try:
        health = provider.health()
        public = provider.public_key()
    finally:
        provider.close()
    key_id = key_id_of(AuditPublicKey(public)).hex()
    where = "outside this process" if health.key_outside_process else "in this process"
    print(f"provider: {health.provider} ({health.detail})")
    print(f"root version: {health.root_version}")
    print(f"checkpoint key: {where}; key id {key_id}")
    print(f"checkpoint public key (for auditors): {base64.b64encode(public).decode()}")
    return 0


def run_rotate(args: argparse.Namespace, settings: Settings) -> int:
    provider = open_provider(settings, role="admin")
    try:
        version = provider.rotate()
    finally:
        provider.close()
    print(f"root version {version} is current; older versions still unwrap")
    return 0


def run_destroy(args: argparse.Namespace, settings: Settings) -> int:
    if not args.yes:
        raise ConfigError("--yes", "destroying a root version loses every value wrapped "
                                   "under it; pass --yes to confirm")
    provider = open_provider(settings, role="admin")
    try:
        provider.destroy_version(args.version)
        left = provider.versions()
    finally:
        provider.close()
    print(f"root version {args.version} destroyed; live versions: "
          f"{', '.join(map(str, left))}")
    return 0
