"""LightBox web bridge: a Flask app on port 5001 that maps HTTP onto the engine's MQTT API.

Holds no display state. Talks to the engine only over MQTT (``bridge.link``)
and imports no module of ``appliance`` that touches the display or the render
loop: only settings, topics, wire, logs, images (and broker, in tests).
"""

from bridge.app import create_app

__all__ = ["create_app"]
