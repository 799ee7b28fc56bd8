"""The README's main job: the whole MedCrypt story on loopback (``medcrypt-bot demo``).

Lives in a checkout only, beside the sandbox it drives; the wheel a clinic installs
carries neither (docs/adr/0007-sandbox-and-demo-outside-the-wheel.md).
"""
