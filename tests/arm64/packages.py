"""The Debian packages of the arm64 root the real-binding tier runs in (scripts/test-arm64).

Those of the real-systemd test (tests/deploy/nspawn.py) plus what deploy/rgbmatrix.sh
installs to build hzeller's library, so neither the tier's build nor install.sh has
to reach a mirror from inside the root.
"""

from __future__ import annotations

from tests.deploy.nspawn import PACKAGES

ARCH = "arm64"
#: deploy/rgbmatrix.sh's BUILD_PACKAGES and the runtime library the binding links to.
BUILD = ("build-essential", "cmake", "python3-dev", "libpython3.11")
#: What install.sh adds on ARM (the BLAS piwheels' numpy links against).
ARM = ("libopenblas0-pthread",)
ARM64_PACKAGES = (*PACKAGES, *BUILD, *ARM)
