"""`lightbox <command>` child processes with their own settings file, state folder and log.

Owns starting, signalling and stopping them (SIGTERM, then SIGKILL), reading
their output and JSON log lines, and the virtual display's test hooks (panel
snapshot, fault file) which tests switch on and benchmarks leave off, since
a snapshot per frame would be measured too. Knows nothing of MQTT.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import psutil

LIGHTBOX = [sys.executable, "-m", "appliance"]


def child_env(workdir: Path) -> dict[str, str]:
    """Environment for a child: no test hooks, no systemd socket, private state dir."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LIGHTBOX_VIRTUAL_") and k != "NOTIFY_SOCKET"}
    env["PYTHONUNBUFFERED"] = "1"
    env["STATE_DIRECTORY"] = str(workdir / "state")
    (workdir / "state").mkdir(parents=True, exist_ok=True)
    return env


@dataclass
class LightboxProcess:
    """A `lightbox <command>` subprocess with its own settings file and log.

    ``test_hooks`` turns on the virtual display's snapshot and fault file;
    ``keep_settings`` leaves a settings file that already exists as it is (a
    test that edits it before a restart), else it is written afresh.
    """

    command: str
    workdir: Path
    settings: dict[str, Any]
    extra_args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    test_hooks: bool = True
    keep_settings: bool = True
    #: Words run before the command, which exec it (``benchmarks.cgexec`` joins a cgroup).
    launcher: list[str] = field(default_factory=list)

    @property
    def settings_path(self) -> Path:
        """The settings file this process reads."""
        return self.workdir / "settings.json"

    @property
    def log_path(self) -> Path:
        """stdout+stderr of the process."""
        return self.workdir / f"{self.command}.log"

    @property
    def snapshot_path(self) -> Path:
        """The virtual display's snapshot file."""
        return self.workdir / "panel.npy"

    @property
    def fault_path(self) -> Path:
        """Create this file to make the virtual display fail."""
        return self.workdir / "display.fault"

    def environment(self) -> dict[str, str]:
        """The child's environment: ours without test hooks, plus the hooks when wanted."""
        env = child_env(self.workdir)
        if self.test_hooks:
            env.update({k: v for k, v in os.environ.items() if k.startswith("LIGHTBOX_VIRTUAL_")})
            env["LIGHTBOX_VIRTUAL_SNAPSHOT"] = str(self.snapshot_path)
            env["LIGHTBOX_VIRTUAL_FAULT_FILE"] = str(self.fault_path)
        return {**env, **self.env}

    def start(self) -> LightboxProcess:
        """Write the settings and start the process."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        if not (self.keep_settings and self.settings_path.exists()):
            self.settings_path.write_text(json.dumps(self.settings, indent=2))
        env = self.environment()
        self.process = subprocess.Popen(
            [*self.launcher, *LIGHTBOX, self.command, "--settings", str(self.settings_path),
             *self.extra_args],
            stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, env=env, start_new_session=True,
        )
        return self

    @property
    def pid(self) -> int:
        """The child's pid."""
        assert self.process is not None
        return self.process.pid

    def psutil(self) -> psutil.Process:
        """A psutil handle on the child."""
        return psutil.Process(self.pid)

    def alive(self) -> bool:
        """True while the process runs."""
        return self.process is not None and self.process.poll() is None

    def signal(self, sig: int) -> None:
        """Send a signal."""
        assert self.process is not None
        os.kill(self.process.pid, sig)

    def stop(self, timeout_s: float = 10.0) -> int | None:
        """SIGTERM and wait; SIGKILL when it does not stop."""
        p = self.process
        if p is None:
            return None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)
        return p.returncode

    def kill(self) -> None:
        """SIGKILL."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)

    def log(self) -> str:
        """The process output so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, chars: int = 3000) -> str:
        """The end of the process output."""
        return self.log()[-chars:]

    def log_events(self) -> list[dict[str, Any]]:
        """The JSON log lines so far."""
        out = []
        for line in self.log().splitlines():
            with contextlib.suppress(ValueError):
                obj = json.loads(line)
                if isinstance(obj, dict):
                    out.append(obj)
        return out

    def panel(self) -> np.ndarray | None:
        """What the virtual panel shows (from its snapshot), or None before the first one."""
        try:
            return np.load(self.snapshot_path)
        except (OSError, ValueError):
            return None
