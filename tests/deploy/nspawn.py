"""A booted Debian bookworm in systemd-nspawn, for the real-systemd deployment test.

Builds a minimal root with debootstrap from the mirror in this machine's own
apt sources, caches it as a tarball under /var/cache/lightbox-test/ (keyed by
suite and package list), boots a copy with `systemd-nspawn --boot` on a
private network (loopback only), and runs commands inside with `nsenter`
into the container's PID 1 namespaces (the host has no systemd as PID 1, so
machinectl and `systemd-run -M` are not available). Python packages come from
wheels built on the host (`pip wheel`), because the container has no network.

``arch`` (``root_tarball``, ``wheelhouse``) makes a root of another Debian
architecture (arm64 for the real-binding tier, scripts/test-arm64): debootstrap
runs its second stage through qemu-user-static's binfmt handler, and the wheels
are downloaded for that platform instead of built. ``run`` runs one command in
such a root without booting it (systemd under qemu-user is slow and needs no test).
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


def host_arch() -> str:
    """Return this machine's Debian architecture (amd64, arm64, ...)."""
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


def foreign_arch_ready(arch: str) -> str | None:
    """Return why a root of ``arch`` cannot run here (no qemu binfmt handler), or None."""
    if arch == host_arch():
        return None
    qemu = {"arm64": "aarch64", "armhf": "arm", "i386": "i386"}.get(arch, arch)
    handler = Path(f"/proc/sys/fs/binfmt_misc/qemu-{qemu}")
    if not handler.exists():
        return (f"no binfmt handler {handler}: apt-get install qemu-user-static binfmt-support; "
                "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; "
                f"update-binfmts --enable qemu-{qemu}")
    text = handler.read_text()
    if not text.startswith("enabled"):
        return f"{handler} is disabled: update-binfmts --enable qemu-{qemu}"
    flags = next((ln.split(":", 1)[1].strip() for ln in text.splitlines()
                  if ln.startswith("flags:")), "")
    if "F" not in flags:
        return f"{handler} lacks the F flag (the interpreter must work inside a container)"
    return None


def root_tarball(log: list[str], arch: str | None = None,
                 packages: tuple[str, ...] = PACKAGES) -> Path:
    """Return the cached bookworm root tarball, debootstrapping it on first use.

    ``arch`` None is this machine's own; another one needs ``foreign_arch_ready``.
    """
    own = arch is None or arch == host_arch()
    parts: list[object] = [SUITE, "minbase", sorted(packages)]
    if not own:
        parts.append(arch)  # the host's own keeps the key it always had (its cache stays valid)
    key = hashlib.sha256(json.dumps(parts).encode()).hexdigest()
    label = SUITE if own else f"{SUITE}-{arch}"
    tarball = CACHE / f"{label}-root-{key[:16]}.tar"
    with locked(f"root-{arch}" if not own else "root"):
        if tarball.exists():
            log.append(f"root: cached {tarball}")
            return tarball
        build = CACHE / f"build-{key[:16]}"
        shutil.rmtree(build, ignore_errors=True)
        mirror = apt_mirror()
        t0 = time.monotonic()
        cmd = ["debootstrap", "--variant=minbase", f"--include={','.join(packages)}"]
        if not own:
            cmd.append(f"--arch={arch}")
        r = subprocess.run([*cmd, SUITE, str(build), mirror], capture_output=True, text=True,
                           timeout=2400)
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
        log.append(f"root: debootstrap ({label}) from {mirror} in {time.monotonic() - t0:.0f} s")
        return tarball


#: pip's platform tags for a Debian bookworm arm64 root (glibc 2.36, CPython 3.11).
PLATFORMS = {"arm64": ("manylinux_2_36_aarch64", "manylinux_2_34_aarch64",
                       "manylinux_2_28_aarch64", "manylinux_2_17_aarch64",
                       "manylinux2014_aarch64", "linux_aarch64")}


def wheelhouse(repo: Path, log: list[str], arch: str | None = None,
               extra: tuple[str, ...] = (), sdists: tuple[str, ...] = ()) -> Path:
    """Return a folder of wheels for the project's dependencies (and build backend).

    On the host's own architecture they are built here (``pip wheel``); for another
    (``arch``) they are downloaded for that platform, with ``extra`` requirements and
    the source archives of ``sdists`` at the versions of their downloaded wheels.
    """
    own = arch is None or arch == host_arch()
    blob = (repo / "pyproject.toml").read_bytes()
    if not own:  # only what is downloaded: a new pytest marker must not download again
        import tomllib

        deps = tomllib.loads(blob.decode())["project"]["dependencies"]
        blob = json.dumps([deps, arch, list(extra), list(sdists)]).encode()
    key = hashlib.sha256(blob).hexdigest()[:16]
    folder = CACHE / (f"wheels-{key}" if own else f"wheels-{arch}-{key}")
    with locked("wheels" if own else f"wheels-{arch}"):
        if (folder / ".complete").exists():
            log.append(f"wheels: cached {folder}")
            return folder
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.monotonic()
        if own:
            pip = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check",
                   "-w", str(folder)]
            subprocess.run([*pip, str(repo), "setuptools>=68", "wheel", *extra], check=True,
                           timeout=900, capture_output=True)
            for own_wheel in folder.glob("lightbox-*.whl"):
                own_wheel.unlink()
        else:
            _download(repo, folder, arch or "", extra, sdists)
        (folder / ".complete").touch()
        log.append(f"wheels: {'built' if own else 'downloaded for ' + str(arch)} in "
                   f"{time.monotonic() - t0:.0f} s")
        return folder


def _download(repo: Path, folder: Path, arch: str, extra: tuple[str, ...],
              sdists: tuple[str, ...]) -> None:
    """Fill ``folder`` with the wheels of ``arch`` (and the sdists).

    pip resolves and builds on the host first (some dependencies, e.g. sdnotify, are
    sdists only): pure-Python wheels are copied as they are, every other one is
    downloaded again, at the same version, for the other platform.
    """
    folder.mkdir(parents=True)
    host = folder.parent / f".{folder.name}-host"
    shutil.rmtree(host, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "-q", "--disable-pip-version-check"]
    r = subprocess.run([*pip, "wheel", "-w", str(host), str(repo), "setuptools>=68", "wheel",
                        *extra], timeout=900, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pip wheel on the host failed:\n{r.stderr[-3000:]}")
    tags = ["--no-deps", "--only-binary=:all:", "--python-version", "3.11",
            "--implementation", "cp", "--abi", "cp311", "--abi", "abi3", "--abi", "none"]
    for platform in PLATFORMS[arch]:
        tags += ["--platform", platform]
    native: list[str] = []
    for wheel in sorted(host.glob("*.whl")):
        name, version = wheel.name.split("-")[:2]
        if name == "lightbox":
            continue
        if wheel.name.endswith("-none-any.whl"):
            shutil.copy2(wheel, folder / wheel.name)
        else:
            native.append(f"{name}=={version}")
    r = subprocess.run([*pip, "download", "-d", str(folder), *tags, *native], timeout=900,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"pip download for {arch} failed:\n{r.stderr[-3000:]}")
    for name in sdists:
        wheel = next(iter(sorted(folder.glob(f"{name}-*.whl"))), None)
        pin = f"{name}=={wheel.name.split('-')[1]}" if wheel else name
        r = subprocess.run([*pip, "download", "-d", str(folder), "--no-deps",
                            "--no-binary=:all:", pin], timeout=900, capture_output=True,
                           text=True)
        if r.returncode != 0:
            raise RuntimeError(f"pip download of the {pin} sdist failed:\n{r.stderr[-3000:]}")
    shutil.rmtree(host, ignore_errors=True)


def run(root: Path, script: str, *, binds: dict[str, str] | None = None,
        ro_binds: dict[str, str] | None = None, env: dict[str, str] | None = None,
        timeout_s: float = 3600, log: Path | None = None) -> subprocess.CompletedProcess[str]:
    """Run a bash script in ``root`` with systemd-nspawn, not booted, on loopback only.

    Output goes to ``log`` as it comes when given (a long build shows progress there),
    and is returned either way; the exit status is the script's.
    """
    name = f"lbrun-{os.getpid()}-{time.monotonic_ns() % 10**6}"
    cmd = ["systemd-nspawn", "--quiet", "-D", str(root), f"--machine={name}",
           "--private-network", "--register=no", "--keep-unit", "--as-pid2", "--console=pipe",
           "--setenv=LANG=C.UTF-8", f"--setenv=PATH={PATH}", "--setenv=HOME=/root"]
    cmd += [f"--setenv={k}={v}" for k, v in (env or {}).items()]
    cmd += [f"--bind={src}:{dst}" for src, dst in (binds or {}).items()]
    cmd += [f"--bind-ro={src}:{dst}" for src, dst in (ro_binds or {}).items()]
    cmd += ["/bin/bash", "-c", script]
    if log is None:
        return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout_s)
    with log.open("a") as fh:
        fh.write(f"\n$ {script}\n")
        fh.flush()
        start = fh.tell()
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=fh, stderr=subprocess.STDOUT,
                           timeout=timeout_s)
    with log.open() as fh:
        fh.seek(start)
        out = fh.read()
    return subprocess.CompletedProcess(cmd, r.returncode, out, "")


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
