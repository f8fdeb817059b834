"""Dropping root after the display is up, for drivers that do not do it themselves.

hzeller's library drops to ``drop_priv_user`` inside its own init. The virtual
and emulator drivers need no root at all, so the engine drops to the same user
after starting them: the installed service then runs with the same identity,
files and permissions whichever driver it uses. Knows nothing of MQTT or drawing.
"""

from __future__ import annotations

import grp
import os
import pwd

import structlog

log = structlog.get_logger("service")


def drop_to(user: str, group: str) -> bool:
    """Switch this process to ``user``:``group`` when running as root; True if dropped.

    A missing user (a development machine run as root) is logged and skipped.
    """
    if os.geteuid() != 0:
        return False
    try:
        uid = pwd.getpwnam(user).pw_uid
        gid = grp.getgrnam(group).gr_gid
    except KeyError:
        log.warning("privilege_drop_skipped", user=user, group=group,
                    reason="no such user or group; still running as root")
        return False
    os.setgroups([gid])
    os.setgid(gid)
    os.setuid(uid)
    log.info("privileges_dropped", user=user, group=group, uid=uid, gid=gid)
    return True
