"""The only importer of paho: the client factory, the engine's link, the probe, the check client.

``client`` builds every paho client (MQTT 5, TLS, credentials, no Nagle) and
re-exports the paho names others need; ``link`` is the engine's connection and
outbox; ``probe`` is diagnose's one connect; ``check`` is the client of verify
and decommission.
"""
