"""Start and stop the host cluster's processes, in order, each waited for by its health endpoint.

``HostCluster.start()`` brings up the control plane (etcd, kube-apiserver, kube-controller-manager,
kube-scheduler), then the node (containerd with the images imported, kubelet, kube-proxy), then the add-ons
(KubeRay's CRDs, CoreDNS and the operator as Deployments). ``stop()`` undoes all of it and everything the
components made: pods, processes (by PID, by their binaries' cache path, by kubelet's cgroup root), mounts under
``STATE``/``RUN``, the bridge and its veths, kube-proxy's nftables tables, the sysctls. ``leftovers()`` lists
whatever is still there.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
from pathlib import Path

from helpers import config
from helpers.errors import ClusterError
from helpers.host import build, components, images, network
from helpers.host.components import RUN, STATE, Process
from helpers.host.pki import CLIENTS
from helpers.progress import StatusLine

LOGS = config.host_cache() / "logs" / "cluster"  # kept after down, for a look at what failed
PIDS = RUN / "pids"
SYSCTL_RECORD = RUN / "sysctls.json"
KUBE_PROXY_TABLES = (("ip", "kube-proxy"), ("ip6", "kube-proxy"))  # kube-proxy's nftables mode makes these
START_TIMEOUT = 120.0


def log_tail(name: str, lines: int = 12) -> str:
    path = LOGS / f"{name}.log"
    if not path.exists():
        return f"(no log at {path})"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


# -- health -----------------------------------------------------------------------------------------------------


def _ssl_context() -> ssl.SSLContext:
    pki = components.pki()
    ctx = ssl.create_default_context(cafile=str(pki.path("ca.crt")))
    ctx.load_cert_chain(str(pki.path("admin.crt")), str(pki.path("admin.key")))
    return ctx


def probe(url: str) -> tuple[bool, str]:
    """(healthy, what was seen) for a component's health URL."""
    if url.startswith("unix:"):
        sock = socket.socket(socket.AF_UNIX)
        try:
            sock.connect(url[5:])
            return True, "socket answers"
        except OSError as exc:
            return False, str(exc)
        finally:
            sock.close()
    ctx = None
    if url.startswith(f"https://{network.NODE_IP}"):
        ctx = _ssl_context()
    elif url.startswith("https://"):
        ctx = ssl._create_unverified_context()  # noqa: S323 - a component's self-signed serving cert on 127.0.0.1
    try:
        with urllib.request.urlopen(url, timeout=3, context=ctx) as resp:  # noqa: S310
            return resp.status == 200, resp.read(200).decode(errors="replace").strip() or str(resp.status)
    except OSError as exc:
        return False, str(getattr(exc, "reason", exc))


# -- processes ----------------------------------------------------------------------------------------------------


def _exe(pid: int) -> str:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return ""


def started_pids() -> dict[str, int]:
    """The components started by this backend that still run, by name (a PID file whose binary still matches)."""
    found = {}
    for path in sorted(PIDS.glob("*.json")) if PIDS.exists() else []:
        record = json.loads(path.read_text())
        if _exe(record["pid"]) == record["exe"]:
            found[path.stem] = record["pid"]
    return found


def cache_processes() -> list[int]:
    """Every process running one of the built binaries (containerd's shims included), by its executable's path."""
    dirs = tuple(f"{c.bin_dir}/" for c in build.COMPONENTS)
    return [int(p) for p in os.listdir("/proc") if p.isdigit() and _exe(int(p)).startswith(dirs)]


def cgroup_dirs() -> list[Path]:
    """kubelet's cgroup root in every cgroup v1 hierarchy (the pods' processes are below it)."""
    root = Path("/sys/fs/cgroup")
    return [
        d / components.CGROUP_ROOT.lstrip("/")
        for d in root.iterdir()
        if (d / components.CGROUP_ROOT.lstrip("/")).is_dir()
    ]


# The pods' CPU weight against this machine's other processes. On cgroup v1 every process outside a cgroup competes
# with the whole pod tree as one entity of weight 1024 each: the control plane, the notebook's kernel, its traffic and
# the port-forwards outnumber it, and a Ray pod starved while it starts exits ("The current node timed out during
# startup": Ray's fixed 30 s wait for its raylet), then restarts in CrashLoopBackOff (seen in lesson 04's head loss
# and lesson 05's upgrade on the host cluster). Four processes' worth lets the pods start under that load.
PODS_CPU_SHARES = 4096


def create_cgroups() -> None:
    """kubelet's cgroup root in every cgroup v1 hierarchy (kubelet refuses to start without it); a new cpuset
    cgroup gets its parent's CPUs and memory nodes, or no process could join it; the cpu one gets the pods'
    weight (PODS_CPU_SHARES)."""
    name = components.CGROUP_ROOT.lstrip("/")
    for hierarchy in sorted(Path("/sys/fs/cgroup").iterdir()):
        if hierarchy.name == "unified" or not hierarchy.is_dir():
            continue
        target = hierarchy / name
        target.mkdir(exist_ok=True)
        for key in ("cpuset.cpus", "cpuset.mems"):
            if (hierarchy / key).exists() and not (target / key).read_text().strip():
                (target / key).write_text((hierarchy / key).read_text())
        if (target / "cpu.shares").exists():
            (target / "cpu.shares").write_text(str(PODS_CPU_SHARES))


def cgroup_processes() -> list[int]:
    pids: set[int] = set()
    for top in cgroup_dirs():
        for procs in top.rglob("cgroup.procs"):
            try:
                pids.update(int(x) for x in procs.read_text().split())
            except OSError:
                continue
    return sorted(pids)


def start(process: Process) -> int:
    for path, text in process.files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    LOGS.mkdir(parents=True, exist_ok=True)
    PIDS.mkdir(parents=True, exist_ok=True)
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", **process.env}
    with open(LOGS / f"{process.name}.log", "ab") as log:
        proc = subprocess.Popen(
            process.argv,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=STATE,
            start_new_session=True,
        )
    (PIDS / f"{process.name}.json").write_text(json.dumps({"pid": proc.pid, "exe": process.exe}))
    return proc.pid


def wait_healthy(process: Process, timeout: float = START_TIMEOUT) -> float:
    line = StatusLine(f"starting {process.name}", every=10)
    seen = "starting"
    while line.elapsed < timeout:
        if process.name not in started_pids():
            line.failed("exited")
            raise ClusterError(
                f"{process.name} exited while starting. Last lines of its log:\n{log_tail(process.name)}"
            )
        ok, seen = probe(process.health)
        if ok:
            line.done(f"healthy ({process.health})")
            return line.elapsed
        line.update(seen[:100])
        time.sleep(0.5)
    line.failed(f"not healthy after {timeout:.0f} s")
    raise ClusterError(
        f"{process.name} did not become healthy within {timeout:.0f} s ({process.health}: {seen}). "
        f"Last lines of its log:\n{log_tail(process.name)}"
    )


def terminate(pids: list[int], grace: float = 10.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.2)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


# -- mounts -------------------------------------------------------------------------------------------------------


def our_mounts() -> list[str]:
    """Mount points under STATE or RUN or containerd's root (its snapshots), deepest first."""
    roots = (str(STATE), str(RUN), str(components.CONTAINERD_ROOT))
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4].replace("\\040", " ")
        if any(point == r or point.startswith(r + "/") for r in roots):
            found.append(point)
    return list(reversed(found))


def unmount_all() -> list[str]:
    done = []
    for _ in range(3):  # a mount can hide another at the same point
        points = our_mounts()
        if not points:
            break
        for point in points:
            if subprocess.run(["umount", "-l", point], capture_output=True, check=False).returncode == 0:
                done.append(point)
    return done


# -- nftables ----------------------------------------------------------------------------------------------------


def nft_tables() -> list[tuple[str, str]]:
    if not shutil.which("nft"):
        return []
    out = subprocess.run(["nft", "list", "tables"], capture_output=True, text=True, check=False).stdout
    tables = [tuple(line.split()[1:3]) for line in out.splitlines() if line.startswith("table ")]
    return [t for t in tables if t in KUBE_PROXY_TABLES or t[1].startswith(config.HOST_PREFIX)]


def delete_nft_tables() -> list[str]:
    done = []
    for family, name in nft_tables():
        subprocess.run(["nft", "delete", "table", family, name], capture_output=True, check=False)
        done.append(f"nftables table {family} {name}")
    return done


# -- the whole cluster ----------------------------------------------------------------------------------------------


def crictl(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    cmd = [str(build.binary("crictl")), f"--runtime-endpoint=unix://{components.SOCKET}", "--timeout=60s", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def ctr(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cmd = [str(build.binary("ctr")), f"--address={components.SOCKET}", "--namespace=k8s.io", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)


def import_images() -> list[str]:
    """Import every image archive containerd does not have yet (by name); return the names imported."""
    have = set(ctr("images", "list", "--quiet").stdout.split())
    imported = []
    for image in images.images():
        if image.name in have:
            continue
        line = StatusLine(f"importing {image.name} into containerd", every=15)
        done = ctr("images", "import", "--no-unpack=false", str(image.archive))
        if done.returncode != 0:
            line.failed(done.stderr.strip()[-200:])
            raise ClusterError(f"ctr images import {image.archive} failed:\n{done.stderr.strip()}")
        line.done("imported")
        imported.append(image.name)
    return imported


def leftovers() -> list[str]:
    """Everything of the host cluster still on this machine."""
    found = [f"process {pid} ({name})" for name, pid in started_pids().items()]
    found += [f"process {pid} ({_exe(pid)})" for pid in cache_processes() if pid not in started_pids().values()]
    found += [f"pod process {pid}" for pid in cgroup_processes()]
    found += [f"mount {point}" for point in our_mounts()]
    found += [f"link {link['ifname']}" for link in network.links() if network.ours(link)]
    found += [f"nftables table {family} {name}" for family, name in nft_tables()]
    found += [f"cgroup {d}" for d in cgroup_dirs()]
    found += [f"directory {d}" for d in (STATE, RUN) if d.exists()]
    return found


def stop(quiet: bool = False) -> list[str]:
    """Stop everything the host cluster started and remove what it made; return what was done (a second call: [])."""
    done = []
    running = started_pids()
    if "kubelet" in running:
        terminate([running.pop("kubelet")])
        done.append("stopped kubelet")
    if "containerd" in running and components.SOCKET.exists():
        removed = crictl("rmp", "--all", "--force")  # every pod sandbox: CNI DEL, veths and netns go with them
        if removed.returncode == 0 and removed.stdout.strip():
            done.append(f"removed {len(removed.stdout.split())} pod sandbox(es)")
    for name in ("kube-proxy", "containerd", "kube-scheduler", "kube-controller-manager", "kube-apiserver", "etcd"):
        if name in running:
            terminate([running.pop(name)])
            done.append(f"stopped {name}")
    rest = sorted(set(cache_processes()) | set(cgroup_processes()) | set(running.values()))
    if rest:
        terminate(rest, grace=5)
        done.append(f"stopped {len(rest)} more process(es) (shims, pods)")
    done += [f"unmounted {p}" for p in unmount_all()]
    done += delete_nft_tables()
    for top in cgroup_dirs():
        for d in sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)) + [top]:
            try:
                d.rmdir()
            except OSError:
                pass
        done.append(f"removed cgroup {top}")
    done += network.remove(SYSCTL_RECORD)
    for d in (RUN, STATE):
        if d.exists():
            shutil.rmtree(d, ignore_errors=True)
            done.append(f"removed {d}")
    if not quiet:
        for item in done:
            print(f"  {item}")
    return done


def prepare() -> None:
    """The network, the sysctls, the certificates and kubeconfigs (after cleaning any remains of a crash)."""
    if leftovers():
        stop(quiet=True)
    clash = network.conflicts()
    if clash:
        raise ClusterError(
            f"This machine already routes part of the host cluster's ranges ({network.POD_CIDR}, "
            f"{network.SERVICE_CIDR}): {', '.join(clash)}. Remove that route or network first."
        )
    for d in (STATE, RUN, LOGS):
        d.mkdir(parents=True, exist_ok=True)
    network.create(SYSCTL_RECORD)
    pki = components.pki()
    pki.create(components.NODE, network.NODE_IP, network.API_SERVICE_IP)
    for name in (*CLIENTS, "kubelet"):
        pki.kubeconfig(name, components.API_SERVER)


def start_all(with_node: bool = True) -> dict[str, float]:
    """Start the cluster, one progress line per component; return each component's start time in seconds.

    A failure part way stops what was started, so nothing is left that `down` could not clean."""
    from helpers.host import addons

    took: dict[str, float] = {}
    try:
        prepare()
        for process in components.control_plane():
            start(process)
            took[process.name] = wait_healthy(process)
        started = time.monotonic()
        addons.install_crds()
        took["KubeRay CRDs"] = time.monotonic() - started
        if with_node:
            containerd, kubelet, kube_proxy = components.node()
            start(containerd)
            took["containerd"] = wait_healthy(containerd)
            started = time.monotonic()
            import_images()
            took["images"] = time.monotonic() - started
            create_cgroups()
            for process in (kubelet, kube_proxy):
                start(process)
                took[process.name] = wait_healthy(process)
            took["node Ready"] = addons.wait_node_ready()
            took["CoreDNS"] = addons.install_coredns()
            took["KubeRay operator"] = addons.install_operator()
    except BaseException:
        stop(quiet=True)
        raise
    return took
