"""Scheduled and on-demand key-lifecycle jobs of the bot.

Keys live on the companions; the bot's part of rotation is bookkeeping (epoch rows,
PHI-free notices, audit entries) and its part of shredding is deleting everything it
stores for an epoch whose grace window has ended, then scrubbing the database files.
Every job computes the state it should reach from the calendar and the injected clock,
so running it twice, late, or on two replicas at once converges on the same rows.
"""
