"""WhatsApp through Twilio: sending with the real ``twilio`` Client.

The twilio Client runs on its aiohttp-based ``AsyncTwilioHttpClient``, so sends share the
bot's event loop instead of a thread each. The REST base URL comes from
``whatsapp.api_base_url`` by re-pointing the ``api`` domain (``client.api.base_url``),
the supported seam the twilio library builds every Messages URL from - this is how the
sandbox and regional edges are reached.

Failure mapping (Twilio error codes): 63016 = outside the 24-hour window → template and
hold; 429 / 5xx / network → retry with backoff; other 4xx → permanent (told to sender).
In-doubt rows are resolved by listing messages sent to the recipient since the row was
created and matching the body: a token's text is unique ciphertext, so a match is
proof that the platform has it.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.rest import Client

# The Messages API is imported lazily by twilio on first use: 0.1-0.3 s with the event
# loop blocked, which would hold back (and then bunch) the first paced sends. Now, at
# start, instead.
from twilio.rest.api.v2010.account import message as _messages_api  # noqa: F401

from medcrypt.bot.adapters.channels import WINDOW_CLOSED, whatsapp_address
from medcrypt.bot.adapters.pacing import Pacer
from medcrypt.bot.domain import notices
from medcrypt.bot.domain.config import Settings
from medcrypt.bot.domain.messages import OutKind
from medcrypt.bot.domain.sender import Delivery
from medcrypt.bot.outbox.errors import Permanent, RateLimited, Transient, WindowClosed

log = structlog.get_logger("bot.whatsapp")

# The twilio HTTP clients log request bodies and headers at INFO: never let them.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)
logging.getLogger("twilio.async_http_client").setLevel(logging.WARNING)


class WhatsAppSender:
    """Sends with twilio's aiohttp-based client (``*_async`` calls): no thread per send.

    The client is created on first use, inside the running event loop (aiohttp sessions
    belong to a loop). Every call is bounded by ``whatsapp.request_timeout_seconds``.
    """

    def __init__(self, settings: Settings, account_sid: str, auth_token: str,
                 from_address: str, *, outbox_paced: bool = False) -> None:
        self._settings = settings
        self._sid = account_sid
        self._token = auth_token
        self._from = from_address
        self._timeout = settings.whatsapp.request_timeout_seconds
        self._status_url = settings.whatsapp.public_url.rstrip("/") + \
            settings.whatsapp.status_path
        self._client: Client | None = None
        self._http: AsyncTwilioHttpClient | None = None
        #: None when the outbox claim paces the sends (replicas sharing the pacing).
        self._pacer = None if outbox_paced else Pacer(
            settings.whatsapp.global_messages_per_second)

    def _ensure(self) -> Client:
        if self._client is None:
            self._http = AsyncTwilioHttpClient(pool_connections=True)
            client = Client(self._sid, self._token, http_client=self._http)
            client.api.base_url = self._settings.whatsapp.api_base_url.rstrip("/")
            self._client = client
        return self._client

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None
            self._client = None

    def _kwargs(self, d: Delivery) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"to": whatsapp_address(d.address), "from_": self._from,
                                  "status_callback": self._status_url}
        if d.kind == OutKind.TEMPLATE.value:
            sid = self._settings.whatsapp.template_content_sid
            if sid:
                kwargs["content_sid"] = sid
            else:  # no approved template configured: the same PHI-free words, free-form,
                # in the recipient's language (queued so by the outbox worker)
                kwargs["body"] = d.body or notices.TEMPLATE_BODY
        elif d.media_url is not None:
            kwargs["media_url"] = [d.media_url]
        else:
            kwargs["body"] = d.body
        return kwargs

    async def send(self, delivery: Delivery) -> str:
        if delivery.kind == OutKind.WITHDRAW.value:
            # Twilio cannot remove a user's message (the channel says so, so the relay
            # never queues one here); refused rather than sent as text.
            raise Permanent("tw-withdraw-unsupported")
        if self._pacer is not None:
            await self._pacer.wait()
        try:
            # asyncio.timeout, not wait_for: no extra task per send on the hot path.
            async with asyncio.timeout(self._timeout):
                message = await self._ensure().messages.create_async(
                    **self._kwargs(delivery))
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except (TimeoutError, aiohttp.ClientError, OSError):
            raise Transient("tw-network") from None
        except TwilioException:
            raise Transient("tw-client") from None
        return str(message.sid)

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        if not delivery.body:
            return None  # files and templates carry no unique text to match
        since = datetime.fromtimestamp(since_epoch_s, UTC) - timedelta(minutes=5)
        try:
            messages = await asyncio.wait_for(
                self._ensure().messages.list_async(to=whatsapp_address(delivery.address),
                                                   date_sent_after=since, limit=200),
                timeout=self._timeout)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise Transient(f"tw-{exc.status}") from None
            return None  # the account cannot list messages here: cannot tell
        except (TimeoutError, aiohttp.ClientError, OSError):
            raise Transient("tw-network") from None
        except TwilioException:
            return None  # e.g. "Unable to fetch page" (listing unsupported): cannot tell
        for message in messages:
            if message.body == delivery.body:
                return str(message.sid)
        return False


def _classify(exc: TwilioRestException) -> Exception:
    code = exc.code if isinstance(exc.code, int) else 0
    if code == WINDOW_CLOSED:
        return WindowClosed(str(WINDOW_CLOSED))
    if exc.status == 429:
        return RateLimited("tw-429")
    if exc.status >= 500:
        return Transient(f"tw-{exc.status}")
    if exc.status in (401, 403):
        return Transient(f"tw-{exc.status}")  # credentials: an operator fix, not the user's
    return Permanent(f"tw-{code or exc.status}")


