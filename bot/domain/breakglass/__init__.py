"""Break-glass inside the running bot: requests, two-admin approval, keyless bundle export.

Nothing here can open a message or a deposit: the bundle is sealed to the clinic's
escrow PUBLIC key (``bundle``), and only ``medcrypt.opener`` (``medcrypt-breakglass``),
run offline by two share holders, imports the opening code (docs/adr/0000, amendment 2).
"""
