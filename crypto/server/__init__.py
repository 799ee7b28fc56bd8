"""Keys the clinic's server holds for its own data: the keyring of sealed columns and
the audit log's crypto; and the offline ceremony that makes the clinic escrow key and
hands out only its public half and its shares. None of them opens a message (ADR 0000)."""
