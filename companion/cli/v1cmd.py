"""``medcrypt v1 decrypt``: read old MEDCRYPT v1 tokens (migration only; never written).

The shared secret comes from an environment variable named by ``--secret-env`` so it
never appears in the process list or shell history. No keystore is needed: v1 keys are
derived from the secret and the month, and cached in this process only.
"""

from __future__ import annotations

import argparse
import os
import sys

from medcrypt.companion.display import shown
from medcrypt.companion.env import read_stdin
from medcrypt.companion.i18n import N_, _, error
from medcrypt.crypto.errors import ConfigError, MalformedToken


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    about = _("read tokens of the earlier MEDCRYPT v1 format")
    p = sub.add_parser("v1", help=about, description=about)
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    verbs.required = True
    about = _("v1 token(s) on stdin -> plaintext on stdout")
    dec = verbs.add_parser("decrypt", help=about, description=about)
    dec.add_argument("--secret-env", required=True, metavar="VAR",
                     help=_("name of the environment variable holding the v1 shared secret"))
    dec.add_argument("--month", required=True, metavar="YYYY-MM",
                     help=_("the month the tokens were written in"))
    dec.set_defaults(handler=run_decrypt)


def run_decrypt(args: argparse.Namespace) -> int:
    from medcrypt.crypto.endpoint.v1 import (  # lazy: cold start
        check_month,
        decrypt_v1,
        find_v1_tokens,
    )

    secret = os.environ.get(args.secret_env)
    if not secret:
        raise error(ConfigError, N_("is not set (it must hold the v1 shared secret)"),
                    key=args.secret_env)
    month = check_month(args.month)
    tokens = find_v1_tokens(read_stdin())
    if not tokens:
        raise error(MalformedToken, N_("no MEDCRYPT v1 token found on stdin"))
    texts = [shown(decrypt_v1(t, secret, month).plaintext.decode("utf-8", "replace"))
             for t in tokens]
    if len(texts) == 1:
        sys.stdout.write(texts[0])
    else:
        sys.stdout.write("".join(t if t.endswith("\n") else t + "\n" for t in texts))
    return 0
