"""The clinic-side bot, in layers (docs/adr/0008-bot-layers.md); each imports only below:

``cli`` > ``app`` (the composition root) > ``adapters`` | ``scheduler`` > ``relay`` >
``commands`` > ``outbox`` > ``domain``. Only the adapters know a platform exists.

The bot holds no key that opens a message. It imports only keyless parts of ``crypto``
(token headers, part joining, server keyring, audit crypto); an import-linter contract
in CI enforces that, and another one the layers.
"""
