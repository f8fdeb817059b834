"""Descriptions of the settings of contract sections 8 and 9 (schedules, realtime input).

Kept apart from ``appliance.settings.doc`` (which merges them in) so that page's
module stays small. Words only: no models, no files.
"""

from __future__ import annotations

#: The schedule settings (contract section 8; docs/schedules.md tells the whole story).
SECTIONS_EXTRA = {
    "location": "Where the box is, for sunrise and sunset (computed on the box, no "
                "network). Needed only by windows that use sun times; `null` for none.",
    "schedule": "Up to 100 windows, each with an action in force while it is open, in "
                "`timezone`; later windows win overlaps. See [Schedules](schedules.md).",
}
MEANING_EXTRA = {
    "timezone": "IANA time zone the schedule's times are in, e.g. `Europe/Berlin`; `null` "
                "uses the system's (`TZ`, then /etc/localtime), else UTC.",
    "location.latitude": "Latitude in degrees, north positive.",
    "location.longitude": "Longitude in degrees, east positive.",
    "schedule.name": "The window's name (unique; shown in `<base>/schedule`): 1-40 letters, "
                     "digits, spaces, `_` and `-`.",
    "schedule.days": "Days the window opens on (the day it starts; a window crossing "
                     "midnight ends the next day); each day once.",
    "schedule.start": "`HH:MM`, `HH:MM:SS` (local time), `sunrise` or `sunset` with an "
                      "optional offset up to 12h: `sunset-30m`, `sunrise+1h30m`, "
                      "`sunset-90s`.",
    "schedule.end": "Like `start`; not after the start means the next day (crossing "
                    "midnight). Must differ from `start`.",
    "schedule.action": "One of `{\"preset\": NAME}`, `{\"playlist\": NAME}`, "
                       "`{\"power\": \"OFF\"}` or `{\"brightness_max\": 1-100}` (a cap "
                       "that leaves the stored brightness alone).",
    "schedule.enabled": "`false` keeps the window but never opens it.",
}

#: Realtime input (contract section 9; docs/realtime.md tells the whole story).
SECTIONS_EXTRA |= {
    "realtime": "DDP, E1.31 (sACN) and Art-Net receivers: while a stream sends frames it "
                "covers the animation. All off by default. See [Realtime input](realtime.md).",
    "realtime.ddp": "DDP (xLights, LedFx, Hyperion): pixels by byte offset, shown on the "
                    "push flag.",
    "realtime.e131": "E1.31 / sACN: 170 pixels per universe in consecutive universes, "
                     "unicast or multicast 239.255.<hi>.<lo>; priority decides between "
                     "senders.",
    "realtime.artnet": "Art-Net: ArtDmx, 170 pixels per universe, ArtSync; ArtPoll is "
                       "answered so senders find the box.",
}
MEANING_EXTRA |= {
    "realtime.ddp.enabled": "Listen for DDP.",
    "realtime.ddp.port": "UDP port for DDP (the protocol's is 4048).",
    "realtime.e131.enabled": "Listen for E1.31.",
    "realtime.e131.port": "UDP port for E1.31 (the protocol's is 5568).",
    "realtime.e131.universe": "The frame's first universe (1-63999); the frame takes as "
                              "many consecutive universes as the panel needs.",
    "realtime.e131.multicast": "Also join the multicast groups of the frame's universes "
                               "(needs `bind` 0.0.0.0).",
    "realtime.artnet.enabled": "Listen for Art-Net.",
    "realtime.artnet.port": "UDP port for Art-Net (the protocol's is 6454).",
    "realtime.artnet.universe": "The frame's first port-address (0-32767, net, sub-net and "
                                "universe in one number).",
    "realtime.bind": "The local IP address the receivers listen on (an address, never a "
                     "host name): 0.0.0.0 for every interface, 127.0.0.1 for this box only.",
    "realtime.timeout_s": "Seconds after the last frame before `on_timeout` applies.",
    "realtime.on_timeout": "`resume` the animation underneath (it kept its own clock), "
                           "`blank` the panel, or `hold` the last frame.",
}
