"""The only importer of paho: the engine's link, the probe and the check client."""
