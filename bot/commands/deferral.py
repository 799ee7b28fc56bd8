"""Run a key-lifecycle or audit command after the message's transaction commits.

The job handlers of :mod:`bot.jobs.chat` and the audit verification open their own
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
from medcrypt.bot.domain.lifecycle.context import JobContext

JobHandler = Callable[[JobContext, str, list[str]], ChatReply]
NOT_WIRED = "The key-lifecycle jobs are not available in this process."


def defer_job(ctx: Context, handler: JobHandler, args: list[str]) -> None:
    jobs = ctx.services.jobs
    if jobs is None:
        ctx.reply(NOT_WIRED)
        return
    actor_id = ctx.sender_id
    arguments = list(args)

    def work() -> str:
        return handler(jobs, actor_id, arguments).text

    ctx.deferred.append(work)
