"""The composition root: the one place that builds the bot's collaborators and wires
the adapters, relay, outbox worker, scheduler and maintenance loop together."""
