"""The host backend's pieces that need no root and no cluster: pins, certificates, configuration, the cache."""

from __future__ import annotations

import re

import pytest
import yaml
from cryptography import x509

from helpers import config
from helpers.host import build, components, images, network
from helpers.host.pki import PKI


@pytest.mark.parametrize("component", build.COMPONENTS, ids=lambda c: c.name)
def test_each_go_module_requires_the_pinned_upstream_version(component):
    go_mod = (build.GO_MODULES / component.name / "go.mod").read_text()
    assert re.search(rf"^require {re.escape(component.module)} {re.escape(component.version)}$", go_mod, re.M)
    assert (build.GO_MODULES / component.name / "go.sum").stat().st_size > 0
    # every binary it builds is a tool of the module, so `go mod tidy` keeps what the build needs
    for package in component.binaries.values():
        assert package in go_mod


def test_kubernetes_staging_modules_are_replaced_at_the_matching_release():
    go_mod = (build.GO_MODULES / "kubernetes" / "go.mod").read_text()
    staging = re.findall(r"^\s+(k8s\.io/\S+) => (\S+) (\S+)$", go_mod, re.M)
    assert len(staging) > 25
    minor = config.HOST_VERSIONS["kubernetes"].replace("v1.", "v0.", 1)
    assert all(module == target and version == minor for module, target, version in staging)


def test_the_add_ons_run_the_images_the_build_makes():
    built = {image.name for image in images.images()}
    for path in sorted((config.MANIFESTS_DIR / "host").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc["kind"] == "Deployment":
                for container in doc["spec"]["template"]["spec"]["containers"]:
                    assert container["image"] in built, f"{path.name}: {container['image']} is not built here"
                    assert container["imagePullPolicy"] == "Never"


def test_every_listener_is_on_loopback_or_the_bridge():
    for name, (host, _port) in components.PORTS.items():
        assert host in ("127.0.0.1", network.NODE_IP), name
    # and the flags say the same
    for process in components.control_plane() + components.node():
        for arg in process.argv:
            assert "0.0.0.0" not in arg, f"{process.name}: {arg}"
    assert 'stream_server_address = "127.0.0.1"' in components.containerd_config()


def test_everything_the_backend_makes_carries_the_prefix():
    prefix = config.HOST_PREFIX
    assert network.BRIDGE.startswith(prefix)
    assert components.STATE.name.startswith(prefix) and components.RUN.name.startswith(prefix)
    assert components.CGROUP_ROOT.lstrip("/").startswith(prefix)
    assert components.NODE.startswith(prefix)


def test_the_node_is_set_up_for_this_machine():
    kubelet = components.kubelet_config()
    assert kubelet["cgroupDriver"] == "cgroupfs"  # no systemd here
    assert kubelet["imageGCHighThresholdPercent"] == 100  # nothing can be pulled again
    assert kubelet["address"] == network.NODE_IP and kubelet["healthzBindAddress"] == "127.0.0.1"
    assert kubelet["clusterDNS"] == [network.DNS_SERVICE_IP]
    proxy = yaml.safe_load(components.kube_proxy().files[components.STATE / "kube-proxy.yaml"])
    assert proxy["mode"] == "nftables"


def test_pod_and_service_ranges_avoid_the_resolver():
    import ipaddress

    resolver = ipaddress.ip_address("10.255.255.53")
    for cidr in (network.POD_CIDR, network.SERVICE_CIDR):
        assert resolver not in ipaddress.ip_network(cidr)
    assert ipaddress.ip_address(network.NODE_IP) in ipaddress.ip_network(network.POD_CIDR)
    assert ipaddress.ip_address(network.DNS_SERVICE_IP) in ipaddress.ip_network(network.SERVICE_CIDR)


def test_certificates_name_each_identity_and_the_api_server_addresses(tmp_path):
    pki = PKI(tmp_path / "pki")
    pki.create("rst-node", network.NODE_IP, network.API_SERVICE_IP)

    def cert(name):
        return x509.load_pem_x509_certificate(pki.path(f"{name}.crt").read_bytes())

    sans = cert("apiserver").extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    ips = {str(ip) for ip in sans.get_values_for_type(x509.IPAddress)}
    assert {network.NODE_IP, network.API_SERVICE_IP, "127.0.0.1"} <= ips
    assert "kubernetes.default.svc" in sans.get_values_for_type(x509.DNSName)
    kubelet = cert("kubelet").subject.rfc4514_string()
    assert "CN=system:node:rst-node" in kubelet and "O=system:nodes" in kubelet
    assert "CN=system:kube-controller-manager" in cert("controller-manager").subject.rfc4514_string()
    assert oct(pki.path("ca.key").stat().st_mode & 0o777) == "0o600"
    kubeconfig = yaml.safe_load(pki.kubeconfig("admin", components.API_SERVER).read_text())
    assert kubeconfig["clusters"][0]["cluster"]["server"] == components.API_SERVER


def test_a_build_is_current_only_for_the_same_version_and_module_files(tmp_path, monkeypatch):
    monkeypatch.setenv("RAYSERVICE_TUTORIAL_HOST_CACHE", str(tmp_path))
    c = build.BY_NAME["cri-tools"]
    assert not build.is_current(c)
    c.bin_dir.mkdir(parents=True)
    (c.bin_dir / "crictl").write_text("")
    (c.home / ".built").write_text(build._digest(c))
    assert build.is_current(c)
    assert "cri-tools" not in " ".join(build.missing())
    (c.home / ".built").write_text("another go.sum")
    assert not build.is_current(c)
    monkeypatch.setitem(config.HOST_VERSIONS, "cri-tools", "v1.37.0")  # another version: another directory
    assert not build.is_current(c) and c.home.name == "cri-tools-v1.37.0"


def test_the_image_archive_is_what_ctr_and_kind_import(tmp_path, monkeypatch):
    import json
    import tarfile

    monkeypatch.setenv("RAYSERVICE_TUTORIAL_HOST_CACHE", str(tmp_path))
    root = tmp_path / "rootfs"
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "hello").write_text("#!/bin/sh\n")
    image = images.Image("docker.io/library/example:1", lambda r, log: {})
    target = tmp_path / "example.tar"
    images.write_archive(root, image, {"Entrypoint": ["/bin/hello"]}, target)
    with tarfile.open(target) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))
        assert manifest[0]["RepoTags"] == ["docker.io/library/example:1"]
        image_config = json.load(tar.extractfile(manifest[0]["Config"]))
        assert image_config["config"]["Labels"] == images.LABEL
        assert image_config["rootfs"]["diff_ids"][0].startswith("sha256:")
        with tarfile.open(fileobj=tar.extractfile("layer.tar")) as layer:
            assert "bin/hello" in layer.getnames()


def test_the_sysctls_the_cluster_changes_are_recorded_and_restored(tmp_path, monkeypatch):
    values = {"net/ipv4/ip_forward": "0", "kernel/panic": "0"}
    monkeypatch.setattr(network, "read_sysctls", lambda: dict(values))
    written = {}
    monkeypatch.setattr(network, "links", lambda: [])

    class FakePath:
        def __init__(self, name):
            self.name = name

        def write_text(self, value):
            written[self.name] = value
            values[self.name] = value

    monkeypatch.setattr(network, "_sysctl_path", FakePath)
    record = tmp_path / "sysctls.json"
    record.write_text('{"net/ipv4/ip_forward": "0", "kernel/panic": "0"}')
    values.update({"net/ipv4/ip_forward": "1", "kernel/panic": "10"})  # what kubelet and the backend set
    done = network.remove(record)
    assert values == {"net/ipv4/ip_forward": "0", "kernel/panic": "0"}
    assert "sysctl net.ipv4.ip_forward=0" in done and not record.exists()
    assert network.remove(record) == []  # a second time: nothing to do


def test_every_image_the_manifests_name_is_built_for_the_host_cluster():
    """A manifest naming an image the host backend does not build would meet a real ErrImagePull there."""
    from helpers.backends.kube_redis import redis_image

    built = {image.name for image in images.images()}
    named = {redis_image()}
    for path in sorted(config.MANIFESTS_DIR.glob("ray-service*.yaml")):
        named.update(re.findall(r"image: (\S+)", path.read_text()))
    for image in named:
        assert qualified(image) in built, f"{image} is not built by make host-build"


def qualified(image: str) -> str:
    """The name containerd stores an image under, as kubelet normalises it."""
    if "/" not in image:
        return f"docker.io/library/{image}"
    return image if "." in image.split("/")[0] else f"docker.io/{image}"


def test_preflight_names_each_bad_situation_and_what_to_do(monkeypatch):
    import os
    import sys

    from helpers.host import preflight

    monkeypatch.setattr(sys, "platform", "darwin")
    (check,) = preflight.platform_checks()
    assert not check.ok and "BACKEND=kind or local" in check.detail
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    root = next(c for c in preflight.platform_checks() if c.name == "running as root")
    assert not root.ok and "sudo" in root.detail
    monkeypatch.setattr(build, "missing", lambda: ["kubernetes v1.34.4"])
    monkeypatch.setattr(images, "missing", lambda: [])
    monkeypatch.setattr(build, "check_go", lambda: "go1.26.8")
    built = next(c for c in preflight.build_checks() if c.name == "host cluster built")
    assert not built.ok and "make host-build" in built.detail and "kubernetes v1.34.4" in built.detail


def test_preflight_names_the_holder_of_a_taken_port(monkeypatch):
    from collections import namedtuple

    import psutil

    from helpers.host import cluster, preflight

    Conn = namedtuple("Conn", "status laddr pid")
    Addr = namedtuple("Addr", "ip port")
    me = psutil.Process()
    monkeypatch.setattr(
        psutil, "net_connections", lambda kind: [Conn(psutil.CONN_LISTEN, Addr("127.0.0.1", 2379), me.pid)]
    )
    monkeypatch.setattr(cluster, "started_pids", lambda: {})
    (check,) = preflight.port_checks()
    assert not check.ok and "2379" in check.name and f"pid {me.pid}" in check.detail and me.name() in check.detail


def test_go_too_old_is_a_clear_error(monkeypatch):
    import subprocess

    monkeypatch.setattr(build.shutil, "which", lambda tool: "/usr/bin/go")
    monkeypatch.setattr(
        build.subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, stdout="go1.22.3\n", stderr="")
    )
    with pytest.raises(build.BuildError, match="too old"):
        build.check_go()
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    with pytest.raises(build.BuildError, match="Go is not installed"):
        build.check_go()


def test_a_rayservice_status_without_serves_counts_shows_no_made_up_replica_counts():
    """KubeRay's status names each deployment but not its replicas: the wait line says 'hello RUNNING', not 0/0."""
    from helpers import status

    raw = {
        "activeServiceStatus": {
            "applicationStatuses": {
                "hello": {"status": "RUNNING", "serveDeploymentStatuses": {"Hello": {"status": "HEALTHY"}}}
            }
        }
    }
    assert status.summary(status.from_custom_resource("ray-serve-app", raw, None)) == "hello RUNNING"


SVC = "rayservice-tutorial/ray-serve-app-serve-svc/tcp/serve"
HEAD_SVC = "rayservice-tutorial/ray-serve-app-head-svc/tcp/serve"
KUBE_PROXY_TABLE = f"""table ip kube-proxy {{
\tmap service-ips {{
\t\telements = {{ 10.96.37.185 . tcp . 8000 : goto service-6OXD3YKK-{SVC},
\t\t\t     10.96.0.1 . tcp . 443 : goto service-2QRHZV4L-default/kubernetes/tcp/https }}
\t}}
\tchain endpoint-JL2E5QFI-{SVC}__10.244.0.4/8000 {{
\t\tip saddr 10.244.0.4 jump mark-for-masquerade
\t\tmeta l4proto tcp dnat to 10.244.0.4:8000
\t}}
\tchain service-6OXD3YKK-{SVC} {{
\t\tip daddr 10.96.37.185 ip saddr != 10.244.0.0/24 jump mark-for-masquerade
\t\tnumgen random mod 2 vmap {{ 0 : goto endpoint-JL2E5QFI-{SVC}__10.244.0.4/8000, \
1 : goto endpoint-K3NSI7BL-{SVC}__10.244.0.5/8000 }}
\t}}
\tchain service-ABCDEFGH-{HEAD_SVC} {{
\t\tnumgen random mod 1 vmap {{ 0 : goto endpoint-ZZZZZZZZ-{HEAD_SVC}__10.244.0.9/8000 }}
\t}}
}}
"""


def test_the_pods_kube_proxys_rules_send_a_service_to(monkeypatch):
    """Read from kube-proxy's nftables table (its layout as listed on the host cluster): the endpoint chains a
    Service's chain jumps to, not the endpoint chains left defined, nor another Service's."""
    import subprocess

    from helpers.host import network

    listed = subprocess.CompletedProcess([], 0, KUBE_PROXY_TABLE, "")
    monkeypatch.setattr(network.subprocess, "run", lambda *a, **k: listed)
    assert network.service_routes("rayservice-tutorial", "ray-serve-app-serve-svc") == {"10.244.0.4", "10.244.0.5"}
    assert network.service_routes("rayservice-tutorial", "ray-serve-app-head-svc") == {"10.244.0.9"}
    assert network.service_routes("other", "ray-serve-app-serve-svc") == set()
    gone = subprocess.CompletedProcess([], 1, "", "Error: No such file or directory")
    monkeypatch.setattr(network.subprocess, "run", lambda *a, **k: gone)
    assert network.service_routes("rayservice-tutorial", "ray-serve-app-serve-svc") == set()
