"""Key providers that talk to something outside the process: PKCS#11, Transit, KMS.

The interface and the ``env`` provider are pure and live in
:mod:`medcrypt.crypto.server.provider` and :mod:`medcrypt.crypto.server.env_provider`;
this package holds the three that load a vendor module or open a connection, and
:func:`open_provider`, the one place that reads ``[keys]`` and builds the configured
provider. Each provider's library is an extra (``medcrypt-bridge[pkcs11]``, ``[transit]``,
``[kms]``) imported only when that provider is chosen, so a missing one is one line
naming the extra. See docs/adr/0033-key-providers.md.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Literal

from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import ConfigError
from medcrypt.crypto.server.env_provider import EnvProvider
from medcrypt.crypto.server.provider import KeyAdmin

Role = Literal["bot", "admin"]


def open_provider(settings: Settings, environ: Mapping[str, str] | None = None, *,
                  role: Role = "bot") -> KeyAdmin:
    """The configured provider, connected and with its keys found.

    ``role="admin"`` is for the ``keys`` commands that rotate or destroy: on Transit it
    uses the operator's token instead of the bot's. Raises :class:`ConfigError` for a
    missing setting, secret or extra, and the provider errors when it cannot be used.
    """
    env = os.environ if environ is None else environ
    keys = settings.keys
    if keys.provider == "env":
        return EnvProvider.from_environ(env, keys_env=settings.keyring.server_keys_env,
                                        signing_env=settings.audit.signing_key_env)
    if keys.provider == "pkcs11":
        try:
            from medcrypt.bot.keyproviders.pkcs11 import Pkcs11Provider
        except ImportError:
            raise _missing("pkcs11") from None
        pin = env_secret(env, "keys.pkcs11.pin_env", keys.pkcs11.pin_env)
        return Pkcs11Provider(keys.pkcs11.module, keys.pkcs11.token_label, pin,
                              prefix=keys.key_prefix)
    if keys.provider == "transit":
        try:
            from medcrypt.bot.keyproviders.transit import TransitProvider
        except ImportError:
            raise _missing("transit") from None
        which = "admin_token_env" if role == "admin" else "token_env"
        token = env_secret(env, f"keys.transit.{which}", getattr(keys.transit, which))
        return TransitProvider(keys.transit.url, token, mount=keys.transit.mount,
                               prefix=keys.key_prefix, timeout=keys.transit.timeout_seconds)
    try:
        from medcrypt.bot.keyproviders.kms import KmsProvider
    except ImportError:
        raise _missing("kms") from None
    return KmsProvider(region=keys.kms.region, prefix=keys.key_prefix,
                       endpoint_url=keys.kms.endpoint_url or None,
                       max_attempts=keys.kms.max_attempts, timeout=keys.kms.timeout_seconds)


def env_secret(env: Mapping[str, str], setting: str, var: str) -> str:
    """The value of ``var``; unset is a :class:`ConfigError` naming ``setting``."""
    value = env.get(var, "")
    if not value:
        raise ConfigError(setting, f"environment variable {var} is not set")
    return value


def _missing(extra: str) -> ConfigError:
    """A provider's library is not installed: one line naming the extra to install."""
    return ConfigError("keys.provider", f"the {extra} provider needs its library: install "
                       f"medcrypt-bridge[bot,{extra}]")
