"""One question to each platform with the configured credentials: ``doctor --live``.

Through the same clients the bot sends with - PTB on :class:`AiohttpRequest` for
Telegram, the twilio ``Client`` on its aiohttp client for Twilio - pointed at the
configured base URLs, so a check that passes here passes for ``run`` (and runs against
the sandbox in tests). Failures come back as the project's errors with one-line
messages that name the platform and the cause, never a credential: PTB's
``InvalidToken`` quotes the token, twilio's errors quote the request URL with the
account SID in it.
"""

from __future__ import annotations

import asyncio

import aiohttp
from telegram import Bot
from telegram.error import Forbidden, InvalidToken, NetworkError, TelegramError
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

from medcrypt.bot.adapters.tg_request import AiohttpRequest
from medcrypt.bot.domain.config import Settings
from medcrypt.crypto.errors import ConfigError, TransportError

UNAUTHORISED = 401


async def telegram_get_me(settings: Settings, token: str) -> str:
    """The bot's username, from ``getMe`` at ``telegram.api_base_url``."""
    tg = settings.telegram
    timeout = tg.request_timeout_seconds
    requests = [AiohttpRequest(1, connect_timeout=timeout, read_timeout=timeout,
                               write_timeout=timeout, pool_timeout=timeout) for _ in range(2)]
    bot = Bot(token, base_url=tg.api_base_url, base_file_url=tg.api_file_url,
              request=requests[0], get_updates_request=requests[1])
    try:
        await bot.initialize()  # calls getMe
        return bot.bot.username or bot.bot.first_name
    except (Forbidden, InvalidToken):
        raise ConfigError("telegram.token_env", "getMe: the Bot API rejected the token in "
                          f"${tg.token_env}") from None
    except NetworkError as exc:
        raise TransportError(f"getMe: Telegram Bot API unreachable ({type(exc).__name__})"
                             ) from None
    except TelegramError as exc:
        raise TransportError(f"getMe failed ({type(exc).__name__})") from None
    finally:
        for request in requests:
            await request.shutdown()


async def twilio_account(settings: Settings, account_sid: str, auth_token: str) -> str:
    """The Twilio account's status (``active``, ``suspended``, ...), fetched from
    ``whatsapp.api_base_url`` with the configured SID and auth token."""
    wa = settings.whatsapp
    http = AsyncTwilioHttpClient()
    try:
        client = Client(account_sid, auth_token, http_client=http)
        client.api.base_url = wa.api_base_url.rstrip("/")
        account = await asyncio.wait_for(client.api.v2010.accounts(account_sid).fetch_async(),
                                         timeout=wa.request_timeout_seconds)
        return str(account.status)
    except TwilioRestException as exc:
        if exc.status == UNAUTHORISED:
            raise ConfigError("whatsapp.auth_token_env", "Twilio rejected the account SID "
                              f"and auth token in ${wa.account_sid_env}/${wa.auth_token_env}"
                              ) from None
        raise TransportError(f"Twilio account fetch refused (HTTP {exc.status}, "
                             f"code {exc.code})") from None
    except (TimeoutError, aiohttp.ClientError, OSError, TwilioException) as exc:
        raise TransportError(f"Twilio API unreachable ({type(exc).__name__})") from None
    finally:
        await http.close()
