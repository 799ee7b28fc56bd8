"""Platform adapters: the only code that knows Telegram and WhatsApp exist."""
