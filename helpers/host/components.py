"""What each process of the host cluster runs: its command line, configuration files and health endpoint.

Everything listens on 127.0.0.1 or on the bridge's address (``network.NODE_IP``): the API server and kubelet on the
bridge (the pods reach them there), every other port on 127.0.0.1. State lives under ``STATE`` and ``RUN``; both
carry ``config.HOST_PREFIX``, so ``down`` finds every mount and file by its path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from helpers import config
from helpers.host import build, network
from helpers.host.images import PAUSE_IMAGE
from helpers.host.pki import PKI

STATE = Path(f"/var/lib/{config.HOST_PREFIX}-host")  # etcd's data, containerd's images, kubelet's pods
RUN = Path(f"/run/{config.HOST_PREFIX}-host")  # sockets, containerd's state (sandboxes, network namespaces), pids
NODE = f"{config.HOST_PREFIX}-node"
CGROUP_ROOT = f"/{config.HOST_PREFIX}-host"  # kubelet's cgroup root: every pod's processes are under it
SOCKET = RUN / "containerd" / "containerd.sock"
# containerd's content and snapshots stay in the build cache: the imported images survive `down` (a pod's
# snapshots go with the pod).
CONTAINERD_ROOT = config.host_cache() / f"containerd-{config.HOST_VERSIONS['containerd']}"
API_SERVER = f"https://{network.NODE_IP}:6443"
PORTS = {  # what listens where (tests/unit/test_host_components.py checks every address is ours)
    "etcd": ("127.0.0.1", 2379),
    "etcd-peer": ("127.0.0.1", 2380),
    "kube-apiserver": (network.NODE_IP, 6443),
    "kube-controller-manager": ("127.0.0.1", 10257),
    "kube-scheduler": ("127.0.0.1", 10259),
    "kubelet": (network.NODE_IP, 10250),
    "kubelet-healthz": ("127.0.0.1", 10248),
    "kube-proxy-metrics": ("127.0.0.1", 10249),
    "kube-proxy-healthz": ("127.0.0.1", 10256),
}


@dataclass
class Process:
    name: str
    argv: list[str]
    health: str  # URL that answers 200 when the component is up ("unix:<path>" for a socket that exists)
    env: dict[str, str] = field(default_factory=dict)
    files: dict[Path, str] = field(default_factory=dict)  # configuration it reads, written before it starts

    @property
    def exe(self) -> str:
        return self.argv[0]


def pki() -> PKI:
    return PKI(STATE / "pki")


def kubeconfig(name: str) -> Path:
    return pki().path(f"{name}.kubeconfig")


def _addr(key: str) -> str:
    host, port = PORTS[key]
    return f"{host}:{port}"


def etcd() -> Process:
    return Process(
        "etcd",
        [
            str(build.binary("etcd")),
            f"--name={NODE}",
            f"--data-dir={STATE / 'etcd'}",
            f"--listen-client-urls=http://{_addr('etcd')}",
            f"--advertise-client-urls=http://{_addr('etcd')}",
            f"--listen-peer-urls=http://{_addr('etcd-peer')}",
            f"--initial-advertise-peer-urls=http://{_addr('etcd-peer')}",
            f"--initial-cluster={NODE}=http://{_addr('etcd-peer')}",
            "--listen-metrics-urls=",
            "--quota-backend-bytes=1073741824",
            "--log-level=warn",
        ],
        f"http://{_addr('etcd')}/health",
    )


def kube_apiserver() -> Process:
    p = pki()
    return Process(
        "kube-apiserver",
        [
            str(build.binary("kube-apiserver")),
            f"--etcd-servers=http://{_addr('etcd')}",
            f"--bind-address={network.NODE_IP}",
            f"--advertise-address={network.NODE_IP}",
            "--secure-port=6443",
            f"--service-cluster-ip-range={network.SERVICE_CIDR}",
            f"--tls-cert-file={p.path('apiserver.crt')}",
            f"--tls-private-key-file={p.path('apiserver.key')}",
            f"--client-ca-file={p.path('ca.crt')}",
            f"--kubelet-client-certificate={p.path('apiserver-kubelet-client.crt')}",
            f"--kubelet-client-key={p.path('apiserver-kubelet-client.key')}",
            f"--kubelet-certificate-authority={p.path('ca.crt')}",
            "--kubelet-preferred-address-types=InternalIP",
            "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
            f"--service-account-key-file={p.path('sa.pub')}",
            f"--service-account-signing-key-file={p.path('sa.key')}",
            "--authorization-mode=Node,RBAC",
            "--enable-admission-plugins=NodeRestriction",
            "--allow-privileged=true",
            "--profiling=false",
            "--event-ttl=2h",
        ],
        f"{API_SERVER}/readyz",
    )


def _kube_client_flags(name: str) -> list[str]:
    path = kubeconfig(name)
    return [f"--kubeconfig={path}", f"--authentication-kubeconfig={path}", f"--authorization-kubeconfig={path}"]


def kube_controller_manager() -> Process:
    p = pki()
    return Process(
        "kube-controller-manager",
        [
            str(build.binary("kube-controller-manager")),
            *_kube_client_flags("controller-manager"),
            "--bind-address=127.0.0.1",
            "--secure-port=10257",
            "--leader-elect=false",
            "--use-service-account-credentials=true",
            f"--service-account-private-key-file={p.path('sa.key')}",
            f"--root-ca-file={p.path('ca.crt')}",
            f"--cluster-signing-cert-file={p.path('ca.crt')}",
            f"--cluster-signing-key-file={p.path('ca.key')}",
            f"--service-cluster-ip-range={network.SERVICE_CIDR}",
            "--allocate-node-cidrs=false",
            "--profiling=false",
        ],
        "https://127.0.0.1:10257/healthz",
    )


def kube_scheduler() -> Process:
    return Process(
        "kube-scheduler",
        [
            str(build.binary("kube-scheduler")),
            *_kube_client_flags("scheduler"),
            "--bind-address=127.0.0.1",
            "--secure-port=10259",
            "--leader-elect=false",
            "--profiling=false",
        ],
        "https://127.0.0.1:10259/healthz",
    )


def containerd_config() -> str:
    cri = "plugins.'io.containerd.cri.v1.runtime'"
    runc = f"{cri}.containerd.runtimes.runc"
    lines = [
        "version = 3",
        f'root = "{CONTAINERD_ROOT}"',
        f'state = "{RUN / "containerd"}"',
        "[grpc]",
        f'  address = "{SOCKET}"',
        "[ttrpc]",
        f'  address = "{SOCKET}.ttrpc"',
        "[plugins.'io.containerd.internal.v1.opt']",
        f'  path = "{STATE / "opt"}"',
        "[plugins.'io.containerd.cri.v1.images']",
        '  snapshotter = "overlayfs"',
        "[plugins.'io.containerd.cri.v1.images'.pinned_images]",
        f'  sandbox = "{PAUSE_IMAGE}"',
        f"[{cri}]",
        "  netns_mounts_under_state_dir = true",
        # This machine gives root no CAP_SYS_RESOURCE: a pod's oom_score_adj may not go below containerd's own.
        "  restrict_oom_score_adj = true",
        f"[{cri}.containerd]",
        '  default_runtime_name = "runc"',
        f"[{runc}]",
        '  runtime_type = "io.containerd.runc.v2"',
        f"[{runc}.options]",
        f'  BinaryName = "{build.binary("runc")}"',
        f'  Root = "{RUN / "runc"}"',
        "  SystemdCgroup = false",
        f"[{cri}.cni]",
        f'  bin_dirs = ["{build.BY_NAME["cni-plugins"].bin_dir}"]',
        f'  conf_dir = "{STATE / "cni" / "net.d"}"',
        "[plugins.'io.containerd.grpc.v1.cri']",
        '  stream_server_address = "127.0.0.1"',
        '  stream_server_port = "0"',
    ]
    return "\n".join(lines) + "\n"


def cni_config() -> str:
    """The pods' network: the bridge with host-local addresses, no masquerade (nothing outside is reached)."""
    conf = {
        "cniVersion": "1.0.0",
        "name": f"{config.HOST_PREFIX}-pods",
        "plugins": [
            {
                "type": "bridge",
                "bridge": network.BRIDGE,
                "isGateway": True,
                "isDefaultGateway": True,  # the pods reach the Service addresses through the node
                "ipMasq": False,
                "hairpinMode": True,
                "ipam": {
                    "type": "host-local",
                    "ranges": [[{"subnet": network.POD_CIDR, "gateway": network.NODE_IP}]],
                    "dataDir": str(STATE / "cni" / "ipam"),
                },
            }
        ],
    }
    return json.dumps(conf, indent=1)


def containerd() -> Process:
    conf = STATE / "containerd.toml"
    path = f"{build.BY_NAME['containerd'].bin_dir}:/usr/sbin:/usr/bin:/sbin:/bin"
    return Process(
        "containerd",
        [str(build.binary("containerd")), f"--config={conf}"],
        f"unix:{SOCKET}",
        env={"PATH": path},
        files={conf: containerd_config(), STATE / "cni" / "net.d" / "10-pods.conflist": cni_config()},
    )


def kubelet_config() -> dict:
    p = pki()
    return {
        "apiVersion": "kubelet.config.k8s.io/v1beta1",
        "kind": "KubeletConfiguration",
        "address": network.NODE_IP,
        "port": 10250,
        "readOnlyPort": 0,
        "healthzBindAddress": "127.0.0.1",
        "healthzPort": 10248,
        "authentication": {
            "anonymous": {"enabled": False},
            "webhook": {"enabled": True},
            "x509": {"clientCAFile": str(p.path("ca.crt"))},
        },
        "authorization": {"mode": "Webhook"},
        "cgroupDriver": "cgroupfs",
        "cgroupRoot": CGROUP_ROOT,
        "containerRuntimeEndpoint": f"unix://{SOCKET}",
        "clusterDNS": [network.DNS_SERVICE_IP],
        "clusterDomain": "cluster.local",
        "resolvConf": "",
        "tlsCertFile": str(p.path("kubelet-serving.crt")),
        "tlsPrivateKeyFile": str(p.path("kubelet-serving.key")),
        # Nothing can be pulled again: never collect an image, never evict for a full disk.
        "imageGCHighThresholdPercent": 100,
        "imageGCLowThresholdPercent": 99,
        "evictionHard": {"memory.available": "200Mi", "nodefs.available": "1%", "imagefs.available": "1%"},
        "failSwapOn": False,
        "serializeImagePulls": False,
        "rotateCertificates": False,
        "serverTLSBootstrap": False,
        "enableDebuggingHandlers": True,
        "localStorageCapacityIsolation": True,
    }


def kubelet() -> Process:
    conf = STATE / "kubelet.yaml"
    return Process(
        "kubelet",
        [
            str(build.binary("kubelet")),
            f"--config={conf}",
            f"--kubeconfig={kubeconfig('kubelet')}",
            f"--root-dir={STATE / 'kubelet'}",
            f"--node-ip={network.NODE_IP}",
            f"--hostname-override={NODE}",
            "--v=1",
        ],
        "http://127.0.0.1:10248/healthz",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        files={conf: yaml.safe_dump(kubelet_config(), sort_keys=False)},
    )


def kube_proxy() -> Process:
    conf = STATE / "kube-proxy.yaml"
    settings = {
        "apiVersion": "kubeproxy.config.k8s.io/v1alpha1",
        "kind": "KubeProxyConfiguration",
        "mode": "nftables",
        "clientConnection": {"kubeconfig": str(kubeconfig("kube-proxy"))},
        "hostnameOverride": NODE,
        "bindAddress": network.NODE_IP,
        "clusterCIDR": network.POD_CIDR,
        "healthzBindAddress": _addr("kube-proxy-healthz"),
        "metricsBindAddress": _addr("kube-proxy-metrics"),
        # Leave conntrack's limits and timeouts as they are (0: do not set).
        "conntrack": {"maxPerCore": 0, "min": 0, "tcpEstablishedTimeout": "0s", "tcpCloseWaitTimeout": "0s"},
        "nodePortAddresses": [f"{network.NODE_IP}/32"],
    }
    return Process(
        "kube-proxy",
        [str(build.binary("kube-proxy")), f"--config={conf}"],
        f"http://{_addr('kube-proxy-healthz')}/healthz",
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        files={conf: yaml.safe_dump(settings, sort_keys=False)},
    )


def control_plane() -> list[Process]:
    return [etcd(), kube_apiserver(), kube_controller_manager(), kube_scheduler()]


def node() -> list[Process]:
    return [containerd(), kubelet(), kube_proxy()]
