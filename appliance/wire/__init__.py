"""What crosses MQTT and HTTP: topics, typed commands, replies, error codes, bounded JSON.

Shared by the engine, the bridge and the CLI tools. Imports no render code, no display,
no animation and no paho.
"""
