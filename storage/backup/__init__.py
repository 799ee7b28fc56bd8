"""Backups of the bot's database, and the erasure record that keeps shreds across them.

* :mod:`.archive` - ``create``/``verify``/``restore`` of an encrypted backup file;
* :mod:`.engines` - the SQLite online backup API and ``pg_dump``/``pg_restore``;
* :mod:`.erasure_record` - the append-only, MACed file of shreds kept outside backups.

Encryption is :mod:`medcrypt.crypto.server.backup_seal` (an envelope under the
key provider, or with ``env`` the keyring: docs/adr/0041); re-applying shreds after a
restore is the bot's domain logic
(:mod:`medcrypt.bot.domain.lifecycle.restore`), since it must shred the way the bot does.
"""
