"""LightBox appliance: the engine process (settings, displays, render loop, MQTT, health)."""

#: The installed package's version ("0.0.0+source" in a source tree that was not
#: installed). Read from the package metadata when first asked for, not on import:
#: ``importlib.metadata`` costs more than a tenth of the engine's start-up on a Pi.
__version__: str


def __getattr__(name: str) -> str:
    if name != "__version__":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib.metadata import PackageNotFoundError, version

    try:
        found = version("lightbox")
    except PackageNotFoundError:  # running from a source tree that was not installed
        found = "0.0.0+source"
    globals()["__version__"] = found
    return found
