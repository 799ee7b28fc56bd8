"""Run a key-lifecycle or audit command after the message's transaction commits.

The job handlers of :mod:`bot.commands.lifecycle_chat` and the audit verification open their own
transactions (batches, then a WAL checkpoint or VACUUM that cannot run inside one) and
may take a while; inside the inbound message's transaction they would wait on its
SQLite write lock, and on the event loop they would stall the relay. So the command
module only checks its arguments' shape, and the work goes to ``ctx.deferred``: the bot
runs it in a worker thread once the admin check and its audit entry have committed,
and queues the reply to the admin.
"""

from __future__ import annotations

from collections.abc import Callable

from medcrypt.bot.commands.context import Context
from medcrypt.bot.commands.lifecycle_chat import ChatReply
from medcrypt.bot.domain.services import Services

JobHandler = Callable[[Services, str, list[str]], ChatReply]


def defer_job(ctx: Context, handler: JobHandler, args: list[str]) -> None:
    services = ctx.services
    actor_id = ctx.sender_id
    arguments = list(args)
    language = ctx.lang  # the admin's, read in the message's transaction

    def work() -> str:
        return handler(services, actor_id, arguments).text.in_(language)

    ctx.deferred.append(work)
