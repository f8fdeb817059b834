"""A booted Debian bookworm in systemd-nspawn, for the real-systemd deployment test.

Builds a minimal root with debootstrap from the mirror in this machine's own
apt sources, caches it as a tarball under /var/cache/lightbox-test/ (keyed by
suite and package list), boots a copy with `systemd-nspawn --boot` on a
private network (loopback only), and runs commands inside with `nsenter`
into the container's PID 1 namespaces (the host has no systemd as PID 1, so
machinectl and `systemd-run -M` are not available). Python packages come from
wheels built on the host (`pip wheel`), because the container has no network.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

CACHE = Path(os.environ.get("LIGHTBOX_TEST_CACHE", "/var/cache/lightbox-test"))
SUITE = "bookworm"
#: Everything install.sh needs, so it never has to reach a mirror from inside.
PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "python3", "python3-venv", "mosquitto",
    "mosquitto-clients", "logrotate", "ca-certificates", "openssl", "procps", "iproute2", "jq",
    "libjpeg62-turbo", "zlib1g", "libpng16-16", "libopenjp2-7", "libtiff6", "libwebp7",
    "libfreetype6",
)
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def apt_mirror() -> str:
    """Return the Debian mirror URI of this machine's own apt sources (never a fixed host)."""
    deb822 = Path("/etc/apt/sources.list.d/debian.sources")
    if deb822.exists():
        for para in re.split(r"\n\s*\n", deb822.read_text()):
            fields = dict(re.findall(r"^(\w[\w-]*):\s*(.*)$", para, flags=re.M))
            suites = fields.get("Suites", "").split()
            if "deb" in fields.get("Types", "").split() and any("-" not in s for s in suites):
                return fields["URIs"].split()[0]
    for src in [Path("/etc/apt/sources.list"), *Path("/etc/apt/sources.list.d").glob("*.list")]:
        if not src.exists():
            continue
        for line in src.read_text().splitlines():
            m = re.match(r"^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+(\S+)\s", line)
            if m and "-" not in m.group(2):
                return m.group(1)
    raise RuntimeError("no Debian mirror found in /etc/apt/sources.list(.d)")


@contextlib.contextmanager
def locked(name: str) -> Iterator[None]:
    """Serialise cache builds between concurrent test runs."""
    CACHE.mkdir(parents=True, exist_ok=True)
    with (CACHE / f".{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def root_tarball(log: list[str]) -> Path:
    """Return the cached bookworm root tarball, debootstrapping it on first use."""
    key = hashlib.sha256(json.dumps([SUITE, "minbase", sorted(PACKAGES)]).encode()).hexdigest()
    tarball = CACHE / f"{SUITE}-root-{key[:16]}.tar"
    with locked("root"):
        if tarball.exists():
            log.append(f"root: cached {tarball}")
            return tarball
        build = CACHE / f"build-{key[:16]}"
        shutil.rmtree(build, ignore_errors=True)
        mirror = apt_mirror()
        t0 = time.monotonic()
        r = subprocess.run(["debootstrap", "--variant=minbase", f"--include={','.join(PACKAGES)}",
                            SUITE, str(build), mirror], capture_output=True, text=True,
                           timeout=1200)
        if r.returncode != 0:
            raise RuntimeError(f"debootstrap from {mirror} failed:\n{r.stdout[-3000:]}"
                               f"{r.stderr[-3000:]}")
        # No getty on a console nobody reads; quieter and faster boots.
        for unit in ("getty@tty1.service", "console-getty.service"):
            (build / "etc/systemd/system" / unit).unlink(missing_ok=True)
            with contextlib.suppress(FileExistsError):
                (build / "etc/systemd/system" / unit).symlink_to("/dev/null")
        tmp = tarball.with_suffix(".tmp")
        subprocess.run(["tar", "--numeric-owner", "--xattrs", "-C", str(build), "-cf", str(tmp),
                        "."], check=True)
        tmp.rename(tarball)
        shutil.rmtree(build, ignore_errors=True)
        log.append(f"root: debootstrap from {mirror} in {time.monotonic() - t0:.0f} s")
        return tarball


def wheelhouse(repo: Path, log: list[str]) -> Path:
    """Return a folder of wheels for the project's dependencies (and build backend)."""
    key = hashlib.sha256((repo / "pyproject.toml").read_bytes()).hexdigest()[:16]
    folder = CACHE / f"wheels-{key}"
    with locked("wheels"):
        if (folder / ".complete").exists():
            log.append(f"wheels: cached {folder}")
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.monotonic()
        pip = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
               "-w", str(folder)]
        subprocess.run([*pip, str(repo), "setuptools>=68", "wheel"], check=True, timeout=900,
                       capture_output=True)
        for own in folder.glob("lightbox-*.whl"):
            own.unlink()
        (folder / ".complete").touch()
        log.append(f"wheels: built in {time.monotonic() - t0:.0f} s")
        return folder


@dataclass
class Container:
    """One booted container."""

    root: Path
    name: str
    binds: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    leader: int = 0
    console: Path | None = None
    install_log: str = ""

    def boot(self, timeout_s: float = 120) -> float:
        """Boot with systemd as PID 1; return seconds until the system is running."""
        t0 = time.monotonic()
        self.console = self.root.parent / f"{self.name}-console.log"
        cmd = ["systemd-nspawn", "--boot", "--quiet", "-D", str(self.root),
               f"--machine={self.name}", "--private-network", "--console=passive",
               "--register=no", "--keep-unit"]
        cmd += [f"--bind-ro={src}:{dst}" for src, dst in self.binds.items()]
        self.process = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                        stdout=self.console.open("ab"),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"systemd-nspawn exited {self.process.returncode}:\n"
                                   f"{self.console.read_text(errors='replace')[-3000:]}")
            self.leader = self._leader()
            if self.leader:
                r = self.sh("systemctl is-system-running", timeout_s=10, check=False)
                if r.stdout.strip() in ("running", "degraded"):
                    return time.monotonic() - t0
            time.sleep(0.5)
        raise TimeoutError(f"container did not finish booting in {timeout_s} s")

    def _leader(self) -> int:
        assert self.process is not None
        with contextlib.suppress(OSError):
            children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
            for pid in children.read_text().split():
                if Path(f"/proc/{pid}/comm").read_text().strip() == "systemd":
                    return int(pid)
        return 0

    def sh(self, script: str, timeout_s: float = 120, check: bool = True,
           ) -> subprocess.CompletedProcess[str]:
        """Run a shell script inside (as root, clean environment); return the result."""
        cmd = ["nsenter", "-t", str(self.leader), "-a", "--", "/usr/bin/env", "-i",
               f"PATH={PATH}", "LANG=C.UTF-8", "HOME=/root", "/bin/bash", "-c", script]
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)
        if check and r.returncode != 0:
            raise AssertionError(f"`{script}` exited {r.returncode}:\n{r.stdout[-4000:]}\n"
                                 f"{r.stderr[-4000:]}")
        return r

    def show(self, unit: str, *props: str) -> dict[str, str]:
        """systemctl show, as a dict."""
        out = self.sh(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props)).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def wait(self, script: str, timeout_s: float, what: str, interval_s: float = 0.5) -> str:
        """Run ``script`` until it succeeds; return its output."""
        deadline = time.monotonic() + timeout_s
        last = None
        while time.monotonic() < deadline:
            last = self.sh(script, check=False, timeout_s=max(5.0, timeout_s))
            if last.returncode == 0:
                return last.stdout
            time.sleep(interval_s)
        detail = f"{last.stdout[-1500:]}{last.stderr[-1500:]}" if last else ""
        raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}:\n{detail}")

    def poweroff(self, timeout_s: float = 60) -> None:
        """Shut the container down cleanly (SIGKILL as a last resort)."""
        p = self.process
        if p is None:
            return
        if p.poll() is None and self.leader:
            self.sh("systemctl poweroff --no-block", check=False, timeout_s=10)
            try:
                p.wait(timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(10)
        self.process = None
        self.leader = 0
