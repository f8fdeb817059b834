"""What each ``realtime`` setting means, for the generated settings reference (docs/settings.md).

Kept beside ``realtime_schema`` so the section's words live with it; ``doc`` merges them.
Pure data: imports nothing.
"""

SECTION = ("Realtime input (DDP, E1.31/sACN, Art-Net): a stream's frames cover the animation "
           "while they arrive. All off by default; every key applies live. "
           "See [Realtime input](realtime.md).")

MEANING: dict[str, str] = {
    "realtime.ddp.enabled": "Listen for DDP (xLights, LedFx, Hyperion).",
    "realtime.ddp.port": "UDP port for DDP.",
    "realtime.e131.enabled": "Listen for E1.31 / sACN.",
    "realtime.e131.port": "UDP port for E1.31.",
    "realtime.e131.universe": "The frame's first universe; it takes consecutive universes "
                              "(170 pixels each) from here.",
    "realtime.e131.multicast": "Also join the frame's multicast groups (239.255.hi.lo).",
    "realtime.artnet.enabled": "Listen for Art-Net (ArtDmx, ArtSync; ArtPoll is answered).",
    "realtime.artnet.port": "UDP port for Art-Net.",
    "realtime.artnet.universe": "The frame's first port-address (15 bits); 170 pixels each.",
    "realtime.bind": "Local IP address the receivers listen on (`127.0.0.1`: this box only).",
    "realtime.timeout_s": "Seconds after the last frame that a stream counts as ended.",
    "realtime.on_timeout": "Then: `resume` the animation, `blank` (black) or `hold` the last "
                           "frame, until the next frame or a hand-made change of the look.",
}
