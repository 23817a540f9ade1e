"""promtool for the alert-rule tests: on PATH, or taken from Debian's `prometheus` package.

The package is only downloaded and unpacked into a cache (`apt-get download` + `dpkg-deb -x`), not
installed: installing it would also start a Prometheus server on the machine.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "activator" / "promtool"
PACKAGE = "prometheus"


def ensure_promtool() -> Path:
    """promtool's path; raises RuntimeError naming what to install when it cannot be had."""
    found = shutil.which("promtool")
    if found is not None:
        return Path(found)
    cached = CACHE / "usr" / "bin" / "promtool"
    if cached.exists():
        return cached
    apt, dpkg = shutil.which("apt-get"), shutil.which("dpkg-deb")
    if apt is None or dpkg is None:
        msg = "promtool is not on PATH and apt-get/dpkg-deb are missing: install Debian's `prometheus`"
        raise RuntimeError(msg)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    with tempfile.TemporaryDirectory() as download:

        def fetch() -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                [apt, "download", PACKAGE],
                cwd=download,
                env=env,
                capture_output=True,
                text=True,
                check=False,
                timeout=600,
            )

        fetched = fetch()
        if fetched.returncode != 0 and os.geteuid() == 0:
            # Fresh machine: the package lists are not there yet.
            subprocess.run([apt, "update"], env=env, check=True, capture_output=True, timeout=600)
            fetched = fetch()
        debs = sorted(Path(download).glob(f"{PACKAGE}_*.deb"))
        if fetched.returncode != 0 or not debs:
            msg = f"`apt-get download {PACKAGE}` failed: {fetched.stderr.strip()[-500:]}"
            raise RuntimeError(msg)
        CACHE.mkdir(parents=True, exist_ok=True)
        subprocess.run([dpkg, "-x", str(debs[0]), str(CACHE)], check=True, capture_output=True, timeout=300)
    if not cached.exists():
        msg = f"{debs[0].name} holds no usr/bin/promtool"
        raise RuntimeError(msg)
    return cached
