"""The container images the host cluster runs, built on this machine (nothing is pulled) as image archives.

Root file systems come from Debian's packages (``debootstrap``) or from one binary built by ``build``; each image is
written as a Docker image archive (``manifest.json``, a config, one layer), the format ``ctr images import`` and
``kind load image-archive`` both take, under its fully qualified name. Every image is labelled as a local build.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from helpers import config
from helpers.host import build
from helpers.progress import StatusLine

SUITE = "bookworm"  # Debian 12: its python3 is 3.11, the Python of the official Ray image of this Ray version
PAUSE_IMAGE = "registry.k8s.io/pause:3.10.1"  # the sandbox image of Kubernetes 1.34 (kubeadm's PauseVersion)
LABEL = {"org.opencontainers.image.vendor": "rayservice-tutorial local build"}
RAY_USER = (1000, 100)  # uid and gid of the official image's `ray` user (group `users`)
RAY_HOME = "/home/ray"
RAY_VENV = f"{RAY_HOME}/anaconda3"  # where the official image keeps its Python: PATH is the same here
REDIS_USER = 999  # the official Redis image's uid (manifests/redis/ runs as it)


@dataclass(frozen=True)
class Image:
    name: str  # fully qualified, as containerd's k8s.io namespace stores it
    make: Callable[[Path], dict]  # fills a root file system, returns the image config (Entrypoint, Env...)
    inputs: tuple[str, ...] = ()  # what the image is made of, for the cache key

    @property
    def archive(self) -> Path:
        safe = self.name.replace("/", "_").replace(":", "_")
        return config.host_cache() / "images" / f"{safe}.tar"


def _run(args: list[str], what: str, log: Path, env: dict | None = None) -> None:
    with open(log, "a") as f:
        f.write("$ " + " ".join(args) + "\n")
        f.flush()
        done = subprocess.run(args, stdout=f, stderr=subprocess.STDOUT, env=env, check=False)
    if done.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise build.BuildError(f"{what} failed (exit {done.returncode}; log: {log}):\n{tail}")


def debootstrap(root: Path, packages: list[str], log: Path) -> None:
    """A minimal Debian root file system with ``packages``, from Debian's own archive (debootstrap's default)."""
    if not shutil.which("debootstrap"):
        raise build.BuildError("debootstrap is missing: apt-get install debootstrap (make host-build installs it).")
    debs = config.host_cache() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    args = ["debootstrap", "--variant=minbase", f"--cache-dir={debs}", f"--include={','.join(packages)}"]
    _run([*args, SUITE, str(root)], f"debootstrap of {', '.join(packages)}", log)
    shutil.rmtree(root / "var" / "cache" / "apt" / "archives", ignore_errors=True)
    shutil.rmtree(root / "var" / "lib" / "apt" / "lists", ignore_errors=True)


def _chroot(root: Path, args: list[str], what: str, log: Path) -> None:
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}
    _run([shutil.which("chroot") or "/usr/sbin/chroot", str(root), *args], what, log, env=env)


def make_ray(root: Path, log: Path) -> dict:
    """Debian with bash, wget, procps and Python 3.11, then Ray from PyPI pinned by the project's lock."""
    debootstrap(root, ["bash", "wget", "procps", "ca-certificates", "python3", "python3-venv", "tini"], log)
    uid, gid = RAY_USER
    _chroot(root, ["useradd", "-m", "-u", str(uid), "-g", str(gid), "-s", "/bin/bash", "ray"], "useradd ray", log)
    _chroot(root, ["python3", "-m", "venv", RAY_VENV], "python3 -m venv", log)
    # The wheels are downloaded on this machine (its pip, its certificates) and installed offline in the image.
    wheels = root / "tmp" / "wheels"
    shutil.copytree(ray_wheels(log), wheels)
    pip = [f"{RAY_VENV}/bin/pip", "install", "--no-cache-dir", "--quiet", "--no-index", "--find-links", "/tmp/wheels"]
    _chroot(root, [*pip, f"ray[serve]=={config.RAY_VERSION}"], f"pip install ray[serve]=={config.RAY_VERSION}", log)
    _chroot(root, ["chown", "-R", f"{uid}:{gid}", RAY_HOME], "chown /home/ray", log)
    shutil.rmtree(wheels)
    return {
        "User": f"{uid}:{gid}",
        "WorkingDir": RAY_HOME,
        "Env": [
            f"PATH={RAY_VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            f"HOME={RAY_HOME}",
        ],
        "Cmd": ["/bin/bash"],
    }


def ray_wheels(log: Path) -> Path:
    """Ray's wheels and their dependencies at the versions of the project's lock, downloaded once into the cache."""
    wheels = config.host_cache() / "wheels" / f"ray-{config.RAY_VERSION}-{_lock_digest()}"
    if not (wheels / ".complete").exists():
        shutil.rmtree(wheels, ignore_errors=True)
        lock = config.PROJECT_ROOT / "requirements.lock"
        args = [sys.executable, "-m", "pip", "download", "--quiet", "--only-binary=:all:", "-d", str(wheels)]
        _run([*args, "-c", str(lock), f"ray[serve]=={config.RAY_VERSION}"], "pip download ray[serve]", log)
        (wheels / ".complete").write_text("")
    return wheels


def redis_version(root: Path) -> str:
    out = subprocess.run(
        [shutil.which("chroot") or "/usr/sbin/chroot", str(root), "redis-server", "--version"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return next(w.split("=", 1)[1] for w in out.split() if w.startswith("v="))


def make_redis(root: Path, log: Path) -> dict:
    """Debian's redis-server, its user moved to uid/gid 999 as in the official image (manifests/redis/ runs as it)."""
    debootstrap(root, ["bash", "passwd", "redis-server"], log)
    for args in (["groupmod", "-g", str(REDIS_USER), "redis"], ["usermod", "-u", str(REDIS_USER), "redis"]):
        _chroot(root, args, " ".join(args[:1]), log)
    (root / "data").mkdir(exist_ok=True)
    os.chown(root / "data", REDIS_USER, REDIS_USER)
    found = redis_version(root)
    if found != REDIS_TAG:
        raise build.BuildError(
            f"Debian's redis-server is {found}, not {REDIS_TAG}: change REDIS_TAG and manifests/redis/."
        )
    return {"Entrypoint": ["redis-server"], "WorkingDir": "/data", "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"]}


def make_pause(root: Path, log: Path) -> dict:
    """Kubernetes' own pause program (build/pause/linux/pause.c in the Kubernetes module), linked statically."""
    source = build.go_module_dir("k8s.io/kubernetes", config.HOST_VERSIONS["kubernetes"]) / "build/pause/linux/pause.c"
    version = PAUSE_IMAGE.rsplit(":", 1)[1]
    _run(["cc", "-Os", "-static", f'-DVERSION="{version}"', "-o", str(root / "pause"), str(source)], "cc pause.c", log)
    return {"Entrypoint": ["/pause"], "User": "65535:65535"}


def _single_binary(name: str, entry: list[str]) -> Callable[[Path, Path], dict]:
    def make(root: Path, log: Path) -> dict:
        shutil.copy(build.binary(name), root / name)
        return {"Entrypoint": [f"/{name}", *entry]}

    return make


def images() -> tuple[Image, ...]:
    v = config.HOST_VERSIONS
    return (
        Image(PAUSE_IMAGE, make_pause, (v["kubernetes"],)),
        Image(f"docker.io/{config.RAY_IMAGE}", make_ray, (config.RAY_VERSION, _lock_digest())),
        Image(f"docker.io/library/redis:{REDIS_TAG}", make_redis, (SUITE,)),
        Image(f"registry.k8s.io/coredns/coredns:{v['coredns']}", _single_binary("coredns", []), (v["coredns"],)),
        Image(f"quay.io/kuberay/operator:{v['kuberay']}", _single_binary("ray-operator", []), (v["kuberay"],)),
    )


REDIS_TAG = "7.0.15"  # the redis-server of Debian 12 (checked when the image is built)


def _lock_digest() -> str:
    return hashlib.sha256((config.PROJECT_ROOT / "requirements.lock").read_bytes()).hexdigest()[:12]


def _key(image: Image) -> str:
    return hashlib.sha256(repr((image.name, image.inputs, SUITE, LABEL)).encode()).hexdigest()[:20]


def is_current(image: Image) -> bool:
    stamp = image.archive.with_suffix(".built")
    return image.archive.is_file() and stamp.is_file() and stamp.read_text().strip() == _key(image)


def write_archive(root: Path, image: Image, settings: dict, target: Path) -> None:
    """One-layer Docker image archive of ``root``: owners, modes and device nodes kept."""
    layer = target.with_suffix(".layer.tar")
    with tarfile.open(layer, "w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(root)):
            tar.add(root / entry, arcname=entry)
    digest = hashlib.sha256()
    with open(layer, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    image_config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "1970-01-01T00:00:00Z",
        "config": {**settings, "Labels": LABEL},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{digest.hexdigest()}"]},
    }
    blob = json.dumps(image_config, sort_keys=True).encode()
    config_name = f"{hashlib.sha256(blob).hexdigest()}.json"
    manifest = json.dumps([{"Config": config_name, "RepoTags": [image.name], "Layers": ["layer.tar"]}]).encode()
    partial = target.with_suffix(".partial")
    with tarfile.open(partial, "w") as out:
        for name, data in ((config_name, blob), ("manifest.json", manifest)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))
        out.add(layer, arcname="layer.tar")
    layer.unlink()
    partial.rename(target)


def unmount_under(path: Path) -> None:
    """Unmount whatever debootstrap left mounted in a root file system (/proc, /sys), before it is removed."""
    points = [
        line.split()[4]
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if line.split()[4].startswith(f"{path}/")
    ]
    for point in reversed(points):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def build_image(image: Image) -> float:
    started = time.monotonic()
    work = config.host_cache() / "images" / "work" / image.archive.stem
    log = config.host_cache() / "logs" / f"image-{image.archive.stem}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("")
    unmount_under(work)
    shutil.rmtree(work, ignore_errors=True)
    root = work / "rootfs"
    root.mkdir(parents=True)
    line = StatusLine(f"building image {image.name}", every=30)
    try:
        settings = image.make(root, log)
        write_archive(root, image, settings, image.archive)
    except build.BuildError:
        line.failed(f"see {log}")
        raise
    finally:
        unmount_under(work)
        shutil.rmtree(work, ignore_errors=True)
    image.archive.with_suffix(".built").write_text(_key(image) + "\n")
    line.done(f"{image.archive.name}, {image.archive.stat().st_size / 2**20:.0f} MiB")
    return time.monotonic() - started


def build_all() -> dict[str, float]:
    took = {}
    todo = images()
    for i, image in enumerate(todo, 1):
        if is_current(image):
            print(f"[image {i}/{len(todo)}] {image.name}: built", flush=True)
            continue
        print(f"[image {i}/{len(todo)}] {image.name}: building", flush=True)
        took[image.name] = build_image(image)
    return took


def missing() -> list[str]:
    return [image.name for image in images() if not is_current(image)]
