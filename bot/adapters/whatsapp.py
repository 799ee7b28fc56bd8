"""WhatsApp through Twilio: sending with the real ``twilio`` Client.

The Client is blocking (requests), so each call runs in a worker thread. The REST base
URL comes from ``whatsapp.api_base_url`` by re-pointing the ``api`` domain
(``client.api.base_url``), the supported seam the twilio library builds every Messages
URL from - this is how the sandbox and regional edges are reached.

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

import structlog
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from bot.config import Settings
from bot.messages import OutKind
from bot.outbox.errors import Permanent, Transient, WindowClosed
from bot.outbox.sender import Delivery
from bot.relay import notices

log = structlog.get_logger("bot.whatsapp")

#: Twilio: "Failed to send freeform message because you are outside the allowed window".
WINDOW_CLOSED = 63016

# The twilio HTTP client logs request bodies and headers at INFO: never let it.
logging.getLogger("twilio.http_client").setLevel(logging.WARNING)


def make_client(settings: Settings, account_sid: str, auth_token: str) -> Client:
    http = TwilioHttpClient(timeout=settings.whatsapp.request_timeout_seconds,
                            pool_connections=True)
    client = Client(account_sid, auth_token, http_client=http)
    client.api.base_url = settings.whatsapp.api_base_url.rstrip("/")
    return client


class WhatsAppSender:
    def __init__(self, settings: Settings, client: Client, from_address: str) -> None:
        self._settings = settings
        self._client = client
        self._from = from_address
        self._status_url = settings.whatsapp.public_url.rstrip("/") + \
            settings.whatsapp.status_path

    def _create(self, d: Delivery) -> str:
        kwargs: dict[str, object] = {"to": d.address, "from_": self._from,
                                     "status_callback": self._status_url}
        if d.kind == OutKind.TEMPLATE.value:
            sid = self._settings.whatsapp.template_content_sid
            if sid:
                kwargs["content_sid"] = sid
            else:  # no approved template configured: the same PHI-free words, free-form
                kwargs["body"] = notices.TEMPLATE_BODY
        elif d.media_url is not None:
            kwargs["media_url"] = [d.media_url]
        else:
            kwargs["body"] = d.body
        message = self._client.messages.create(**kwargs)
        return str(message.sid)

    async def send(self, delivery: Delivery) -> str:
        try:
            return await asyncio.to_thread(self._create, delivery)
        except TwilioRestException as exc:
            raise _classify(exc) from None
        except TwilioException:
            raise Transient("tw-client") from None
        except OSError:
            raise Transient("tw-network") from None
        except Exception as exc:  # requests' ConnectionError/Timeout are not OSError
            if type(exc).__module__.startswith(("requests", "urllib3")):
                raise Transient("tw-network") from None
            raise

    def _find(self, d: Delivery, since_epoch_s: float) -> str | bool:
        since = datetime.fromtimestamp(since_epoch_s, UTC) - timedelta(minutes=5)
        for message in self._client.messages.list(to=d.address, date_sent_after=since,
                                                  limit=200):
            if d.body and message.body == d.body:
                return str(message.sid)
        return False

    async def lookup(self, delivery: Delivery, since_epoch_s: float) -> str | bool | None:
        if not delivery.body:
            return None  # files and templates carry no unique text to match
        try:
            return await asyncio.to_thread(self._find, delivery, since_epoch_s)
        except TwilioRestException as exc:
            if exc.status == 429 or exc.status >= 500:
                raise Transient(f"tw-{exc.status}") from None
            return None  # the account cannot list messages here: cannot tell
        except TwilioException:
            return None  # e.g. "Unable to fetch page" (listing unsupported): cannot tell
        except Exception as exc:
            if isinstance(exc, OSError) or type(exc).__module__.startswith(
                    ("requests", "urllib3")):
                raise Transient("tw-network") from None
            raise


def _classify(exc: TwilioRestException) -> Exception:
    code = exc.code if isinstance(exc.code, int) else 0
    if code == WINDOW_CLOSED:
        return WindowClosed("63016")
    if exc.status == 429:
        return Transient("tw-429")
    if exc.status >= 500:
        return Transient(f"tw-{exc.status}")
    if exc.status in (401, 403):
        return Transient(f"tw-{exc.status}")  # credentials: an operator fix, not the user's
    return Permanent(f"tw-{code or exc.status}")


