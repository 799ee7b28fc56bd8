"""The clinic-side bot: platform adapters, relay, jobs, admin commands, sandbox.

The bot holds no key that opens a message. It imports only keyless parts of ``crypto``
(token headers, part joining, server keyring, audit crypto); an import-linter contract
in CI enforces that.
"""
