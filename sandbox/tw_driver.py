"""The test-facing half of the fake Twilio: simulated WhatsApp users and inspection.

``user_sends_whatsapp`` posts an inbound webhook to the bot the way Twilio would -
signed over the bot's configured public URL, with media served by the sandbox - and
opens that user's 24-hour window. Variants produce what an attacker or a flaky network
would: a forged or missing signature, a signature for another URL, a replay of the same
MessageSid. Every webhook and callback posted is kept in ``posts`` for assertions.
"""

from __future__ import annotations

import asyncio
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Literal

from medcrypt.crypto.clock import Clock
from medcrypt.sandbox._server import LoopbackServer
from medcrypt.sandbox.faults import Faults
from medcrypt.sandbox.tw_inbound import inbound_params, sign
from medcrypt.sandbox.tw_models import (
    API_VERSION,
    CallbackRecord,
    InboundResult,
    new_sid,
    whatsapp_address,
)
from medcrypt.sandbox.tw_validate import bare

SignatureMode = Literal["valid", "forged", "missing"]


class TwilioDriver(LoopbackServer):
    """Driver API; :class:`sandbox.fake_twilio.FakeTwilio` provides the server."""

    account_sid: str
    auth_token: str
    whatsapp_from: str
    webhook_url: str | None
    signature_url: str | None
    clock: Clock
    last_inbound_at: dict[str, datetime]

    def __init__(self, faults: Faults | None = None) -> None:
        super().__init__(faults)
        #: Status callbacks posted to the bot, in order.
        self.callbacks: list[CallbackRecord] = []
        #: Inbound webhooks posted to the bot, in order (including forged ones).
        self.inbound: list[InboundResult] = []
        #: Media the sandbox serves for inbound messages: path -> (bytes, content type).
        self.inbound_media: dict[str, tuple[bytes, str]] = {}
        #: Replies the bot gave inside its webhook answers (TwiML ``<Message>``), as
        #: (recipient, body), in order. Twilio sends each one as an outbound message.
        self.twiml_replies: list[tuple[str, str]] = []

    async def post_signed(self, url: str, params: dict[str, str], *, kind: str,
                          signature: str | None = None, sign_for: str | None = None
                          ) -> tuple[int, str, str, str | None]:
        raise NotImplementedError

    def record_post(self, kind: str, url: str, params: dict[str, str], *, sig: str,
                    status: int, text: str, error: str | None) -> None:
        replies = _twiml_messages(text) if kind != "callback" and status == 200 else []
        with self._lock:
            if kind == "callback":
                self.callbacks.append(CallbackRecord(url, params, sig, status, error))
            else:
                self.inbound.append(InboundResult(params.get("MessageSid", ""), url, params,
                                                  sig or None, status, text, error))
            # A TwiML reply is a send like any other for the sender's rate: Twilio sends
            # it when the answer arrives, so it is noted with the API's sends.
            now = time.monotonic()
            for body in replies:
                self.twiml_replies.append((params.get("From", ""), body))
                self.send_times.append(now)
        self.signal.notify()

    # -- simulated users --------------------------------------------------------------
    async def user_sends_whatsapp_async(
            self, from_number: str, body: str = "",
            media: Sequence[tuple[bytes, str]] | None = None, *,
            profile_name: str = "Sandbox User", message_sid: str | None = None,
            signature: SignatureMode = "valid", sign_url: str | None = None,
            webhook_url: str | None = None,
            location: tuple[float, float] | None = None,
            sms: bool = False, media_gone: bool = False) -> InboundResult:
        """Post an inbound WhatsApp message to the bot; see :meth:`user_sends_whatsapp`.

        ``location``: (latitude, longitude) of a shared map pin instead of text or media.
        ``media_gone``: the MediaUrls answer 404, as Twilio's do once the media was
        deleted (by the account's media retention, or an API call) before the bot fetched it.
        ``sms``: the message comes from a plain SMS number (``From=+1555...``, no
        ``whatsapp:`` prefix), as Twilio posts when the same webhook URL is configured
        for a phone number's SMS too.
        """
        url = webhook_url or self.webhook_url
        if not url:
            raise RuntimeError("FakeTwilio.webhook_url is not set: where does the bot listen?")
        sender = from_number if sms else whatsapp_address(from_number)
        sid = message_sid or new_sid("MM" if media else "SM")
        served: list[tuple[str, str]] = []
        with self._lock:
            for data, content_type in media or ():
                path = (f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}/Media/"
                        f"{new_sid('ME')}")
                if not media_gone:
                    self.inbound_media[path] = (data, content_type)
                served.append((self.url + path, content_type))
            if signature == "valid":  # forged/unsigned posts never went through Twilio
                self.last_inbound_at[sender] = self.clock.now()
        params = inbound_params(account_sid=self.account_sid, message_sid=sid,
                                from_addr=sender, to_addr=self.whatsapp_from, body=body,
                                profile_name=profile_name, media=served,
                                location=location)
        if sms:  # an SMS webhook: no WhatsApp fields, a plain number on both ends
            for key in ("WaId", "ProfileName", "MessageType"):
                params.pop(key, None)
            params["To"] = bare(self.whatsapp_from)
        signed_for = sign_url or self.signature_url or url
        sig: str | None = None
        if signature == "valid":
            sig = sign(self.auth_token, signed_for, params)
        elif signature == "forged":
            sig = sign(new_sid(""), signed_for, params)
        status, text, used, error = await self.post_signed(
            url, params, kind="inbound", signature=sig or "", sign_for=signed_for)
        return InboundResult(sid, url, params, used or None, status, text, error)

    def user_sends_whatsapp(self, from_number: str, body: str = "",
                            media: Sequence[tuple[bytes, str]] | None = None, *,
                            profile_name: str = "Sandbox User",
                            message_sid: str | None = None,
                            signature: SignatureMode = "valid", sign_url: str | None = None,
                            webhook_url: str | None = None) -> InboundResult:
        """A WhatsApp user writes to the bot (threaded sandbox; blocks until answered).

        ``media``: (bytes, content type) pairs served by the sandbox as MediaUrl0...;
        ``message_sid``: reuse one to simulate Twilio retrying the same message;
        ``signature``: "forged" (wrong key), "missing" (no header); ``sign_url``: sign
        for a different URL than the bot's configured one.
        """
        return self.run_sync(self.user_sends_whatsapp_async(
            from_number, body, media, profile_name=profile_name, message_sid=message_sid,
            signature=signature, sign_url=sign_url, webhook_url=webhook_url))

    async def replay_async(self, previous: InboundResult) -> InboundResult:
        """Post exactly the same request again (same MessageSid, body and signature)."""
        status, text, used, error = await self.post_signed(
            previous.url, previous.params, kind="inbound",
            signature=previous.signature or "")
        return InboundResult(previous.message_sid, previous.url, previous.params,
                             used or None, status, text, error)

    def replay(self, previous: InboundResult) -> InboundResult:
        return self.run_sync(self.replay_async(previous))

    # -- 24-hour window ---------------------------------------------------------------
    def open_window(self, number: str, at: datetime | None = None) -> None:
        """Pretend the user wrote at ``at`` (default now) without posting a webhook."""
        with self._lock:
            self.last_inbound_at[whatsapp_address(number)] = at or self.clock.now()

    def close_window(self, number: str) -> None:
        with self._lock:
            self.last_inbound_at.pop(whatsapp_address(number), None)

    # -- waiting ------------------------------------------------------------------------
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 5.0) -> None:
        """Block (threaded sandbox) until ``predicate()`` holds, else TimeoutError."""
        if not self.signal.wait_sync(predicate, timeout):
            raise TimeoutError(f"condition not met within {timeout}s")

    async def wait_until_async(self, predicate: Callable[[], bool],
                               timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise TimeoutError(f"condition not met within {timeout}s")
            await asyncio.sleep(0.005)

    def request_bytes(self) -> bytes:
        """Every path, query and body the bot sent to the fake, for leak scanning."""
        with self._lock:
            return b"\n".join(r.path.encode() + b"?" + r.query.encode() + b"\n" + r.body
                              for r in self.requests)


def _twiml_messages(text: str) -> list[str]:
    """The bodies of the ``<Message>`` verbs of a TwiML answer (none if it is not TwiML:
    an error page, an empty answer)."""
    if "<Response" not in text:
        return []
    try:
        # The bot's own answer over loopback, in the sandbox: expat resolves no external
        # entities and limits expansion; a DTD in it would be a bot bug the test shows.
        root = ET.fromstring(text)  # noqa: S314
    except ET.ParseError:
        return []
    if root.tag != "Response":
        return []
    return [m.text or "" for m in root.iter("Message")]
