"""The bottom layer of the bot: its vocabulary and rules, with no platform, no outbox
worker and no relay in sight - pairings, identities, admins, the key lifecycle,
break-glass and audit events. Every layer above may import it; it imports none of them.
"""
