"""LightBox appliance: the engine process (settings, displays, render loop, MQTT, health)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("lightbox")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
