"""Registry backends (remote ones in v1.1): the interface is the one the local backend has.

A backend only fetches pack bytes (``PackSource``); signature, digest, publisher, path and
downgrade checks and the atomic install are shared (``gait.registry``), so a remote backend adds
transport, not trust decisions, and ``registry_pack.json`` needs no change.
"""

from gait.registry.backend import BACKENDS, LocalBackend, PackSource, RegistryBackend

SCHEMA_ID = "gait.registry.pack"

__all__ = ["BACKENDS", "SCHEMA_ID", "LocalBackend", "PackSource", "RegistryBackend"]
