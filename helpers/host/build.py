"""Build the host backend's binaries from their upstream Go modules, once, into the cache outside the repository.

Each project is one Go module under ``host/<name>/`` (its go.mod copies the upstream's ``go``/``godebug`` lines and
``replace`` block; go.sum is committed). Its binaries land in ``<cache>/<name>-<version>/``; a stamp there holds a
digest of the module files and the build settings, so a current cache is used as it is and anything else (another
version, another go.sum, other flags) is built again. GOCACHE and GOMODCACHE live in the same cache directory.

Kubernetes' binaries are laid out as in a release's server tarball (``kubernetes/server/bin/``), which is what
``kind build node-image`` takes: the step after the host backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from helpers import config
from helpers.errors import ShownAsMessage
from helpers.progress import StatusLine

GO_MODULES = config.PROJECT_ROOT / "host"
MIN_GO = (1, 24)  # the newest `go` line among the modules (Kubernetes 1.34's)


class BuildError(ShownAsMessage, RuntimeError):
    """A build could not run or failed: the message names the component and shows the end of its log."""


@dataclass(frozen=True)
class Component:
    name: str  # host/<name>/ and the cache directory's prefix
    module: str  # the upstream Go module
    binaries: dict[str, str]  # output name -> package
    subdir: str = "bin"  # where the binaries go inside the component's cache directory
    cgo: bool = False
    static: bool = False  # link C libraries statically (no run-time dependency on this machine's)
    tags: str = ""
    ldflags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def version(self) -> str:
        return config.HOST_VERSIONS[self.name]

    @property
    def home(self) -> Path:
        return config.host_cache() / f"{self.name}-{self.version}"

    @property
    def bin_dir(self) -> Path:
        return self.home / self.subdir

    def binary(self, name: str) -> Path:
        return self.bin_dir / name


def _kube_ldflags() -> tuple[str, ...]:
    """The version stamps Kubernetes' own build sets (hack/lib/version.sh), so `kubectl version` prints the release."""
    version = config.HOST_VERSIONS["kubernetes"]
    major, minor = version.lstrip("v").split(".")[:2]
    flags = []
    for pkg in ("k8s.io/component-base/version", "k8s.io/client-go/pkg/version"):
        flags += [
            f"-X {pkg}.gitVersion={version}",
            f"-X {pkg}.gitMajor={major}",
            f"-X {pkg}.gitMinor={minor}",
            f"-X {pkg}.gitTreeState=clean",
        ]
    return tuple(flags)


def _components() -> tuple[Component, ...]:
    kube = "k8s.io/kubernetes/cmd/"
    ctrd = "github.com/containerd/containerd/v2/cmd/"
    cni = "github.com/containernetworking/plugins/plugins/"
    v = config.HOST_VERSIONS
    return (
        Component(
            "kubernetes",
            "k8s.io/kubernetes",
            {n: kube + n for n in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kubelet")}
            | {n: kube + n for n in ("kube-proxy", "kubectl")},
            subdir="kubernetes/server/bin",
            ldflags=_kube_ldflags(),
        ),
        Component("etcd", "go.etcd.io/etcd/server/v3", {"etcd": "go.etcd.io/etcd/server/v3"}),
        Component(
            "containerd",
            "github.com/containerd/containerd/v2",
            {n: ctrd + n for n in ("containerd", "ctr", "containerd-shim-runc-v2")},
            tags="no_btrfs no_devmapper",
            ldflags=(f"-X github.com/containerd/containerd/v2/version.Version={v['containerd']}",),
        ),
        # runc's nsenter is C: cgo on; with seccomp (containerd gives every pod sandbox the runtime's default
        # profile), linked statically against Debian's libseccomp-dev as runc's own release build does.
        Component(
            "runc",
            "github.com/opencontainers/runc",
            {"runc": "github.com/opencontainers/runc"},
            cgo=True,
            tags="seccomp netgo osusergo",
            static=True,
            ldflags=(f"-X main.version={v['runc'].lstrip('v')}",),
        ),
        Component(
            "cni-plugins",
            "github.com/containernetworking/plugins",
            {"bridge": cni + "main/bridge", "loopback": cni + "main/loopback"}
            | {"host-local": cni + "ipam/host-local", "portmap": cni + "meta/portmap"},
        ),
        Component("cri-tools", "sigs.k8s.io/cri-tools", {"crictl": "sigs.k8s.io/cri-tools/cmd/crictl"}),
        Component("coredns", "github.com/coredns/coredns", {"coredns": "github.com/coredns/coredns"}),
        Component(
            "kuberay",
            "github.com/ray-project/kuberay/ray-operator",
            {"ray-operator": "github.com/ray-project/kuberay/ray-operator"},
        ),
    )


COMPONENTS = _components()
BY_NAME = {c.name: c for c in COMPONENTS}


def binary(name: str) -> Path:
    """The built binary called ``name`` (any component's)."""
    for c in COMPONENTS:
        if name in c.binaries:
            return c.binary(name)
    raise KeyError(name)


def go_env() -> dict[str, str]:
    cache = config.host_cache()
    env = dict(os.environ)
    env.update(GOTOOLCHAIN="local", GOCACHE=str(cache / "go" / "cache"), GOMODCACHE=str(cache / "go" / "mod"))
    env.update(GOFLAGS="-mod=readonly -trimpath", GOPROXY=os.environ.get("GOPROXY", "https://proxy.golang.org,direct"))
    return env


def go_module_dir(module: str, version: str) -> Path:
    """Where the Go module cache keeps ``module@version`` (downloaded if needed)."""
    (c,) = [c for c in COMPONENTS if c.module == module]
    out = subprocess.run(
        ["go", "mod", "download", "-json", f"{module}@{version}"],
        cwd=GO_MODULES / c.name,
        env=go_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise BuildError(f"go mod download {module}@{version} failed:\n{out.stderr.strip()}")
    return Path(json.loads(out.stdout)["Dir"])


def _digest(c: Component) -> str:
    h = hashlib.sha256()
    for f in ("go.mod", "go.sum"):
        h.update((GO_MODULES / c.name / f).read_bytes())
    h.update(repr((c.binaries, c.cgo, c.static, c.tags, c.ldflags, c.subdir)).encode())
    return h.hexdigest()[:20]


def is_current(c: Component) -> bool:
    stamp = c.home / ".built"
    return (
        stamp.is_file() and stamp.read_text().strip() == _digest(c) and all(c.binary(n).is_file() for n in c.binaries)
    )


def check_go() -> str:
    go = shutil.which("go")
    if not go:
        raise BuildError(f"Go is not installed: the host backend builds Kubernetes from source (Go >= 1.{MIN_GO[1]}).")
    out = subprocess.run(
        [go, "env", "GOVERSION"], capture_output=True, text=True, env=go_env(), check=False
    ).stdout.strip()
    parts = out.removeprefix("go").split(".")
    if len(parts) < 2 or tuple(int(p) for p in parts[:2] if p.isdigit()) < MIN_GO:
        raise BuildError(f"Go {out or '(unknown)'} is too old: the host backend's modules need Go >= 1.{MIN_GO[1]}.")
    return out


def build(c: Component) -> float:
    """Build one component (its binaries in one `go build`), with a status line; return the seconds it took."""
    log = config.host_cache() / "logs" / f"build-{c.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    partial = c.home.with_name(c.home.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    out = partial / c.subdir
    out.mkdir(parents=True)
    env = go_env() | {"CGO_ENABLED": "1" if c.cgo else "0"}
    ld = ("-s", "-w", *c.ldflags) + (("-extldflags=-static",) if c.static else ())
    base = ["go", "build", "-v", "-ldflags", " ".join(ld)] + (["-tags", c.tags] if c.tags else [])
    line = StatusLine(f"building {c.name} {c.version}", every=30)
    started = time.monotonic()
    with open(log, "w") as f:
        # One `go build` for all of a component's binaries where their names are the packages' last elements.
        groups: list[tuple[list[str], str]] = []
        if all(pkg.rsplit("/", 1)[-1] == name for name, pkg in c.binaries.items()):
            groups.append((list(c.binaries.values()), f"{out}/"))  # a directory: go build names each binary
        else:
            groups += [([pkg], str(out / name)) for name, pkg in c.binaries.items()]
        for pkgs, target in groups:
            cmd = [*base, "-o", target, *pkgs]
            f.write("$ " + " ".join(cmd) + "\n")
            f.flush()
            proc = subprocess.Popen(cmd, cwd=GO_MODULES / c.name, env=env, stdout=f, stderr=subprocess.STDOUT)
            while proc.poll() is None:
                time.sleep(2)
                compiled = sum(1 for _ in open(log, errors="replace"))
                line.update(f"{compiled // 100 * 100}+ packages compiled")
            if proc.returncode != 0:
                line.failed(f"go build exited {proc.returncode}")
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
                raise BuildError(f"Building {c.name} {c.version} failed (log: {log}):\n{tail}")
    (partial / ".built").write_text(_digest(c) + "\n")
    shutil.rmtree(c.home, ignore_errors=True)
    partial.rename(c.home)
    line.done(f"{', '.join(c.binaries)} in {c.bin_dir}")
    return time.monotonic() - started


def build_all(only: list[str] | None = None) -> dict[str, float]:
    """Build every component that is not current (a no-op when the cache is current); seconds per component built."""
    check_go()
    took = {}
    chosen = [c for c in COMPONENTS if not only or c.name in only]
    for i, c in enumerate(chosen, 1):
        if is_current(c):
            print(f"[{i}/{len(chosen)}] {c.name} {c.version}: built ({c.bin_dir})", flush=True)
            continue
        print(f"[{i}/{len(chosen)}] {c.name} {c.version}: building (log: logs/build-{c.name}.log)", flush=True)
        took[c.name] = build(c)
    return took


def missing() -> list[str]:
    """The components whose cached build is absent or not current, as "name version"."""
    return [f"{c.name} {c.version}" for c in COMPONENTS if not is_current(c)]
