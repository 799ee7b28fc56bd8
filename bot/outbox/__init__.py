"""Reliable delivery: outbox rows written with the inbound message, a worker that sends them."""
