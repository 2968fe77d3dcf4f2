"""The host cluster's certificates and kubeconfigs, made once per cluster with the ``cryptography`` package.

One CA signs everything: the API server's serving certificate, one client certificate per component (its name
and groups are the identity Kubernetes' RBAC knows: ``system:kube-controller-manager``, ``system:node:<node>``
in ``system:nodes``...), the kubelet's serving certificate, and the service-account key pair. etcd is reached on
127.0.0.1 only and speaks plain HTTP, as in kwokctl's binary runtime.
"""

from __future__ import annotations

import datetime
import ipaddress
from dataclasses import dataclass
from pathlib import Path

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

VALID_DAYS = 365
CLUSTER = "rayservice-host"  # the kubeconfig's cluster, user and context name


@dataclass(frozen=True)
class Client:
    """A component's identity: the certificate's CommonName and Organizations."""

    user: str
    groups: tuple[str, ...] = ()


# Each kubeconfig this cluster writes, and who it is.
CLIENTS = {
    "admin": Client("kubernetes-admin", ("system:masters",)),
    "controller-manager": Client("system:kube-controller-manager"),
    "scheduler": Client("system:kube-scheduler"),
    "kube-proxy": Client("system:kube-proxy", ("system:node-proxier",)),
    # The operator while it runs as a process (before a node exists): a ServiceAccount once it is a Deployment.
    "kuberay-operator": Client("kuberay-operator", ("system:masters",)),
}


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _pem_key(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _name(common: str, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    return x509.Name([*attrs, x509.NameAttribute(NameOID.COMMON_NAME, common)])


class PKI:
    """The certificates under ``directory`` (made by ``create``, read back by the paths below)."""

    def __init__(self, directory: Path):
        self.dir = Path(directory)

    def path(self, name: str) -> Path:
        return self.dir / name

    def exists(self) -> bool:
        return (self.dir / "ca.crt").is_file() and (self.dir / "sa.pub").is_file()

    def create(self, node: str, node_ip: str, service_ip: str) -> None:
        """Make every certificate and key this cluster needs (an existing set is replaced)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o700)
        now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=5)
        ca_key = _key()
        ca_name = _name(f"{CLUSTER}-ca")
        ca = (
            x509.CertificateBuilder()
            .subject_name(ca_name)
            .issuer_name(ca_name)
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now)
            .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        self._write("ca", ca, ca_key)

        def issue(name: str, common: str, orgs=(), server: bool = False, client: bool = False, sans=()) -> None:
            key = _key()
            usages = ([ExtendedKeyUsageOID.SERVER_AUTH] if server else []) + (
                [ExtendedKeyUsageOID.CLIENT_AUTH] if client else []
            )
            builder = (
                x509.CertificateBuilder()
                .subject_name(_name(common, tuple(orgs)))
                .issuer_name(ca_name)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now)
                .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
                .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
                .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            )
            if sans:
                alt = [x509.IPAddress(ipaddress.ip_address(s)) if _is_ip(s) else x509.DNSName(s) for s in sans]
                builder = builder.add_extension(x509.SubjectAlternativeName(alt), critical=False)
            self._write(name, builder.sign(ca_key, hashes.SHA256()), key)

        api_sans = (
            "127.0.0.1",
            node_ip,
            service_ip,
            "localhost",
            "kubernetes",
            "kubernetes.default",
            "kubernetes.default.svc",
            "kubernetes.default.svc.cluster.local",
        )
        issue("apiserver", "kube-apiserver", server=True, sans=api_sans)
        # The API server's identity towards kubelets (logs, exec, port-forward).
        issue("apiserver-kubelet-client", "kube-apiserver-kubelet-client", ("system:masters",), client=True)
        issue("kubelet", f"system:node:{node}", ("system:nodes",), client=True)
        issue("kubelet-serving", node, server=True, sans=(node, node_ip, "127.0.0.1"))
        for name, who in CLIENTS.items():
            issue(name, who.user, who.groups, client=True)
        sa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.path("sa.key").write_bytes(_pem_key(sa))
        self.path("sa.key").chmod(0o600)
        self.path("sa.pub").write_bytes(
            sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        )

    def _write(self, name: str, cert: x509.Certificate, key) -> None:
        self.path(f"{name}.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.path(f"{name}.key").write_bytes(_pem_key(key))
        self.path(f"{name}.key").chmod(0o600)

    def kubeconfig(self, name: str, server: str, namespace: str | None = None) -> Path:
        """Write ``<name>.kubeconfig`` for the client certificate ``name`` and return its path."""
        context = {"cluster": CLUSTER, "user": name}
        if namespace:
            context["namespace"] = namespace
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {"name": CLUSTER, "cluster": {"server": server, "certificate-authority": str(self.path("ca.crt"))}}
            ],
            "users": [
                {
                    "name": name,
                    "user": {
                        "client-certificate": str(self.path(f"{name}.crt")),
                        "client-key": str(self.path(f"{name}.key")),
                    },
                }
            ],
            "contexts": [{"name": CLUSTER, "context": context}],
            "current-context": CLUSTER,
        }
        path = self.path(f"{name}.kubeconfig")
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        path.chmod(0o600)
        return path


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
