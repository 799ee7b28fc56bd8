"""The web companion's delivery, on the Python side (stdlib only, ADR 0029).

* :mod:`.bundle` - what the bundle hash covers, and checking a bundle against it;
* :mod:`.server` - ``medcrypt ui``: the bundle on 127.0.0.1 with its headers;
* :mod:`.verify` - ``medcrypt web-verify``: fetch a published bundle and check it;
* :mod:`.location` - where an install or a checkout keeps the built bundle.
"""
