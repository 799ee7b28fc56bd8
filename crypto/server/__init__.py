"""Keys the clinic's server holds for its own data: the keyring of sealed columns and
the audit log's crypto. None of them opens a message (ADR 0000)."""
