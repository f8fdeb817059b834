"""Dropping root for drivers that need none, in a child process (it cannot be undone)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

CHILD = """
import os, sys
from appliance.privileges import drop_to
dropped = drop_to(sys.argv[1], sys.argv[2])
print(dropped, os.getuid(), os.getgid(), os.getgroups())
"""


@pytest.mark.skipif(os.geteuid() != 0, reason="dropping privileges needs root")
def test_root_drops_to_the_configured_user() -> None:
    r = subprocess.run([sys.executable, "-c", CHILD, "nobody", "nogroup"],
                       capture_output=True, text=True, check=True)
    dropped, uid, gid, groups = r.stdout.splitlines()[-1].split(" ", 3)
    import grp
    import pwd

    assert dropped == "True"
    assert int(uid) == pwd.getpwnam("nobody").pw_uid
    assert int(gid) == grp.getgrnam("nogroup").gr_gid
    assert groups.strip() == f"[{gid}]"


def test_a_missing_user_is_skipped_with_a_warning() -> None:
    r = subprocess.run([sys.executable, "-c", CHILD, "no-such-user-xyz", "no-such-group"],
                       capture_output=True, text=True, check=True)
    assert r.stdout.splitlines()[-1].startswith("False 0" if os.geteuid() == 0 else "False")
    if os.geteuid() == 0:
        assert "privilege_drop_skipped" in r.stdout + r.stderr
