"""podman, as the container tests drive it on these machines.

Debian's podman runs containers with Debian's `runc` (crun fails on this kernel's hybrid cgroups) and an
empty `default_ulimits` (setting ulimits fails here too), both given in a `CONTAINERS_CONF` file, and on
the host's network. No image registry is reachable, so the base image is built from Debian's packages
(`scripts/container-base.sh`, kept in podman's store under a tag that hashes the script). pip inside a
build reaches the package index with this machine's CA bundle, mounted in with a pip.conf naming it.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONF_DIR = Path(tempfile.gettempdir()) / "qwq-gateway-podman"
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def podman_env() -> dict[str, str]:
    CONF_DIR.mkdir(exist_ok=True)
    conf = CONF_DIR / "containers.conf"
    conf.write_text('[containers]\ndefault_ulimits = []\n\n[engine]\nruntime = "runc"\n')
    return {**os.environ, "CONTAINERS_CONF": str(conf)}


def podman(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["podman", *args], env=podman_env(), capture_output=True, text=True, timeout=timeout
    )
    if check:
        assert done.returncode == 0, f"podman {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    return done


def base_image() -> str:
    """The local base image's name, building it the first time (minutes; then kept)."""
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "container-base.sh")],
        env=podman_env(),
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    return done.stdout.strip().splitlines()[-1]


def build_image(tag: str) -> str:
    """`podman build` of the repository's Dockerfile on the local base; the build's output.

    The dependencies' and the wheel's stages are tagged (`<tag>-deps`, `<tag>-build`) so that they stay
    in the store as the cache of the next build; what earlier builds left untagged (stages and images
    of an older source) is pruned, so that repeated runs do not fill the disk."""
    CONF_DIR.mkdir(exist_ok=True)
    pip_conf = CONF_DIR / "pip.conf"
    pip_conf.write_text(f"[global]\ncert = {CA_BUNDLE}\n")
    common = [
        "--format=docker",  # the OCI format has no HEALTHCHECK: podman would drop it
        "--network=host",
        f"--volume={CA_BUNDLE.parent}:{CA_BUNDLE.parent}:ro",
        f"--volume={pip_conf}:/etc/pip.conf:ro",
        f"--build-arg=BASE_IMAGE={base_image()}",
    ]
    output = ""
    for stage in ("deps", "build"):
        done = podman("build", *common, f"--target={stage}", f"--tag={tag}-{stage}", str(ROOT), timeout=1200)
        output += done.stdout
    done = podman("build", *common, f"--tag={tag}", str(ROOT), timeout=1200)
    podman("image", "prune", "--force", check=False)
    return output + done.stdout + done.stderr
