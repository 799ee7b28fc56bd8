"""When things run: APScheduler with a data-only job store (monthly rotation, the shred
sweep) and the maintenance loop (audit checkpoints and witness lines, break-glass
expiry, deposit reminders)."""
