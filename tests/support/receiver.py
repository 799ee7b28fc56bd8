"""A stand-in for the bot's WhatsApp endpoints, validating like the real bot must.

It checks ``X-Twilio-Signature`` with twilio's ``RequestValidator`` against the public
URL it is configured with (not the URL the request arrived on), drops replays by
MessageSid, and serves media for outbound MediaUrl downloads.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import web
from twilio.request_validator import RequestValidator

from medcrypt.sandbox._server import LoopbackServer


@dataclass
class Seen:
    path: str
    params: dict[str, str]
    signature: str | None
    valid: bool


class BotReceiver(LoopbackServer):
    def __init__(self, auth_token: str, public_base: str | None = None) -> None:
        super().__init__()
        self.auth_token = auth_token
        #: The operator-configured public URL prefix (a proxy may sit in front).
        self.public_base = public_base
        self.media: dict[str, tuple[bytes, str]] = {}
        self.seen: list[Seen] = []
        self.accepted_sids: list[str] = []

    def build_routes(self, app: web.Application) -> None:
        app.router.add_post("/whatsapp/{kind}", self._hook)
        app.router.add_get("/media/{name}", self._media)

    def public_url(self, path: str) -> str:
        return (self.public_base or self.url) + path

    async def _hook(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        public = self.public_url(request.path_qs)
        signature = request.headers.get("X-Twilio-Signature")
        valid = signature is not None and RequestValidator(self.auth_token).validate(
            public, form, signature)
        self.seen.append(Seen(request.path, form, signature, valid))
        self.signal.notify()
        if not valid:
            return web.Response(status=403, text="forbidden")
        sid = form.get("MessageSid", "")
        if request.match_info["kind"] == "inbound":
            if sid in self.accepted_sids:
                return web.Response(status=200, text="duplicate")
            self.accepted_sids.append(sid)
        return web.Response(status=200, text="ok")

    async def _media(self, request: web.Request) -> web.Response:
        found = self.media.get(request.match_info["name"])
        if found is None:
            return web.Response(status=404)
        return web.Response(body=found[0], content_type=found[1])
