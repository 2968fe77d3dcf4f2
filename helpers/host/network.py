"""The host cluster's network on this machine: one bridge, the pods' and Services' ranges, and the sysctls.

Every link this module makes is named with ``config.HOST_PREFIX``; the pods' veths are made by the CNI bridge plugin
and go with their pods, and ``remove`` deletes whatever is still attached to the bridge. Sysctls are recorded the
first time the cluster changes them and restored on ``remove``: kubelet sets some of its own (kernel.panic,
vm.overcommit_memory...), kube-proxy others, so every one either may touch is recorded before they start.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from pathlib import Path

from helpers import config

BRIDGE = f"{config.HOST_PREFIX}0"
POD_CIDR = "10.244.0.0/24"  # private, clear of this machine's resolver (10.255.255.53) and of its own link
NODE_IP = "10.244.0.1"  # the bridge's address: the node's InternalIP, the API server's and kubelet's address
SERVICE_CIDR = "10.96.0.0/16"
API_SERVICE_IP = "10.96.0.1"
DNS_SERVICE_IP = "10.96.0.10"

# Every sysctl the backend, kubelet (setupKernelTunables) or kube-proxy may change, restored on `remove`.
SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/ipv4/conf/all/route_localnet",
    "net/netfilter/nf_conntrack_max",
    "net/netfilter/nf_conntrack_tcp_timeout_established",
    "net/netfilter/nf_conntrack_tcp_timeout_close_wait",
    "vm/overcommit_memory",
    "vm/panic_on_oom",
    "kernel/panic",
    "kernel/panic_on_oops",
    "kernel/keys/root_maxkeys",
    "kernel/keys/root_maxbytes",
)
# What the cluster needs set before it starts: forwarding between the bridge and the Service addresses, and
# bridged pod-to-pod packets through netfilter so a Service reply from a pod on the same bridge is un-NATed.
NEEDED = {"net/ipv4/ip_forward": "1", "net/bridge/bridge-nf-call-iptables": "1"}


def _sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name


def read_sysctls() -> dict[str, str]:
    found = {}
    for name in SYSCTLS:
        path = _sysctl_path(name)
        if path.exists():
            found[name] = path.read_text().strip()
    return found


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and done.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {done.stderr.strip()}")
    return done


def links() -> list[dict]:
    return json.loads(ip("-j", "link", "show").stdout or "[]")


def ours(link: dict) -> bool:
    return link["ifname"].startswith(config.HOST_PREFIX) or link.get("master") == BRIDGE


def conflicts() -> list[str]:
    """Routes of this machine that overlap the pods' or Services' ranges (other than our own bridge's)."""
    routes = json.loads(ip("-j", "route", "show").stdout or "[]")
    mine = [ipaddress.ip_network(POD_CIDR), ipaddress.ip_network(SERVICE_CIDR)]
    found = []
    for route in routes:
        dst = route.get("dst", "")
        if dst in ("default", "") or route.get("dev") == BRIDGE:
            continue
        net = ipaddress.ip_network(dst if "/" in dst else f"{dst}/32", strict=False)
        if any(net.overlaps(m) for m in mine):
            found.append(f"{dst} dev {route.get('dev')}")
    return found


def create(record: Path) -> None:
    """The bridge with the node's address, and the sysctls set (their values before recorded in ``record``)."""
    if not record.exists():
        record.write_text(json.dumps(read_sysctls(), indent=1))
    for name, value in NEEDED.items():
        _sysctl_path(name).write_text(value)
    if not any(link["ifname"] == BRIDGE for link in links()):
        ip("link", "add", BRIDGE, "type", "bridge")
    ip("addr", "replace", f"{NODE_IP}/{POD_CIDR.split('/')[1]}", "dev", BRIDGE)
    ip("link", "set", BRIDGE, "up")


def remove(record: Path) -> list[str]:
    """Delete every link of ours (veths left on the bridge, then the bridge) and restore the recorded sysctls;
    return what was done."""
    done = []
    for link in sorted(links(), key=lambda link: link["ifname"] == BRIDGE):
        if ours(link):
            ip("link", "del", link["ifname"], check=False)
            done.append(f"link {link['ifname']}")
    if record.exists():
        before = json.loads(record.read_text())
        now = read_sysctls()
        for name, value in before.items():
            if now.get(name) != value:
                try:
                    _sysctl_path(name).write_text(value)
                    done.append(f"sysctl {name.replace('/', '.')}={value}")
                except OSError as exc:
                    done.append(f"sysctl {name.replace('/', '.')} not restored: {exc}")
        record.unlink()
    return done


def changed_sysctls(record: Path) -> list[str]:
    """Sysctls that differ from the record (for `leftovers`)."""
    if not record.exists():
        return []
    before = json.loads(record.read_text())
    now = read_sysctls()
    return [f"sysctl {k.replace('/', '.')}={now.get(k)} (was {v})" for k, v in before.items() if now.get(k) != v]


def service_routes(namespace: str, service: str) -> set[str]:
    """The pod IPs kube-proxy's rules send new connections to Service ``namespace/service`` to now: the EndpointSlice
    says what the Service should do, these rules are what this machine does (kube-proxy applies a change within
    its sync period). Read from its nftables table: each service chain jumps to one endpoint chain per pod,
    named ``endpoint-<hash>-<namespace>/<service>/tcp/<port name>__<pod IP>/<port>``."""
    listed = subprocess.run(["nft", "list", "table", "ip", "kube-proxy"], check=False, capture_output=True, text=True)
    if listed.returncode != 0:
        return set()
    marker = f"-{namespace}/{service}/tcp/"
    found = set()
    for line in listed.stdout.splitlines():
        if "vmap" not in line and "goto endpoint-" not in line:
            continue
        for target in line.split("goto endpoint-")[1:]:
            chain = target.split()[0].rstrip(",}")
            if marker in f"-{chain.split('-', 1)[-1]}" and "__" in chain:
                found.add(chain.rsplit("__", 1)[1].split("/")[0])
    return found
