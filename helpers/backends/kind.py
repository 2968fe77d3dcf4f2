"""The kind backend: a kind cluster on this machine's Docker, with the KubeRay operator.

On top of the Kubernetes half (``kube.py``) it creates (or reuses) the kind cluster, loads the
images it can find locally, installs KubeRay with its Helm chart, and deletes the cluster on
``down()``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers import by_hand, config
from helpers.backends.kube import DEFAULT_NAMESPACE, KubernetesBackend
from helpers.backends.kube_redis import redis_image
from helpers.errors import BackendError
from helpers.manifests import RayServiceManifest
from helpers.progress import wait_for

KIND_CONFIG = config.MANIFESTS_DIR / "kind-config.yaml"
# Every image the tutorial runs: pulled and loaded into kind by `make workshop-prep` (Redis: GCS fault tolerance).
IMAGES = (config.RAY_IMAGE, config.KUBERAY_OPERATOR_IMAGE, redis_image())


class KindBackend(KubernetesBackend):
    name = "kind"

    def __init__(self, namespace: str = DEFAULT_NAMESPACE, cluster: str = config.KIND_CLUSTER, **kwargs):
        self.cluster = cluster
        super().__init__(namespace=namespace, context=f"kind-{cluster}", **kwargs)

    def preflight(self, manifest: RayServiceManifest | None = None) -> list:
        from helpers import preflight

        return preflight.kind_checks(self.commands, manifest)

    # -- cluster -------------------------------------------------------------------------------

    def cluster_exists(self) -> bool:
        result = self.commands.run(["kind", "get", "clusters"])
        return self.cluster in result.stdout.split()

    def create_cluster(self) -> None:
        if self.cluster_exists():
            print(f"Reusing the kind cluster {self.cluster!r}.")
            return
        print(f"Creating the kind cluster {self.cluster!r} ({config.KIND_NODE_IMAGE}); this takes a minute or two.")
        self.commands.run(
            by_hand.kind_create(self.cluster, str(KIND_CONFIG)),
            timeout=900,
            progress=f"creating the kind cluster {self.cluster}",
        )

    def load_images(self, pull: bool = False) -> list[str]:
        """`kind load docker-image` every tutorial image Docker has (pulling first if ``pull``)."""
        loaded = []
        for image in IMAGES:
            if pull:
                print(f"Pulling {image} ...")
                self.commands.run(["docker", "pull", image], timeout=1800, progress=f"pulling {image}")
            elif not self.commands.run(["docker", "image", "inspect", image], check=False).ok:
                continue  # the node pulls it from the registry instead
            self.commands.run(
                ["kind", "load", "docker-image", image, "--name", self.cluster],
                timeout=1800,
                progress=f"loading {image} into kind",
            )
            loaded.append(image)
        return loaded

    def workshop_prep(self) -> list[str]:
        """Pull every image once and load it into the kind cluster (created if needed), so a room of
        laptops does not hit the registry at the same time."""
        self.create_cluster()
        return self.load_images(pull=True)

    def install_operator(self, timeout: float = 300) -> None:
        """Install (or keep) KubeRay with its Helm chart, then wait until the operator is Available."""
        self.commands.run(by_hand.helm_repo())
        self.commands.run(
            by_hand.helm_install(self.context),
            timeout=600,
            progress=f"installing KubeRay {config.KUBERAY_VERSION} with Helm",
        )

        def available() -> tuple[bool, str]:
            ok = self.kube.deployment_available(config.OPERATOR_NAMESPACE, config.OPERATOR_DEPLOYMENT)
            return ok, "Available" if ok else "waiting for the operator pod"

        wait_for(f"KubeRay operator {config.KUBERAY_VERSION}", available, timeout, interval=2.0)

    def up(self, manifest: RayServiceManifest | str | Path, timeout: float = 900) -> dict[str, Any]:
        from helpers import preflight
        from helpers.manifests import as_manifest

        manifest = as_manifest(manifest)
        checks = self.preflight(manifest)
        if not all(c.ok for c in checks):
            raise BackendError(
                "The kind backend needs Docker, kind, kubectl and helm:\n"
                + preflight.report([c for c in checks if not c.ok])
            )
        self.create_cluster()
        self.load_images()
        self.install_operator()
        return self._prepare_namespace()

    def api_server_host(self) -> str | None:
        """The host of the kind API server, from the kubeconfig (kind-config.yaml pins 127.0.0.1)."""
        from urllib.parse import urlparse

        result = self.commands.run(
            [
                "kubectl",
                "config",
                "view",
                "--minify",
                "--context",
                self.context,
                "-o",
                "jsonpath={.clusters[0].cluster.server}",
            ],
            check=False,
        )
        return urlparse(result.stdout.strip()).hostname if result.ok and result.stdout.strip() else None

    def listening_addresses(self) -> list[str]:
        """The port-forwards, plus the address of the kind API server Docker publishes."""
        host = self.api_server_host()
        return sorted(set(super().listening_addresses()) | ({host} if host else set()))

    def leftovers(self) -> list[str]:
        found = [f"process {p.pid} ({p.name()})" for p in self.our_processes()]
        if self.commands.which("kind") and self.cluster_exists():
            found.append(f"kind cluster {self.cluster}")
        return found

    def down(self, quiet: bool = False) -> int:
        """Stop the port-forwards and delete the whole kind cluster."""
        stopped = self.stop_port_forwards()
        self.state_file.unlink(missing_ok=True)
        if self.commands.which("kind") and self.cluster_exists():
            self.commands.run(
                ["kind", "delete", "cluster", "--name", self.cluster],
                timeout=300,
                progress=f"deleting the kind cluster {self.cluster}",
            )
            if not quiet:
                print(f"Deleted the kind cluster {self.cluster!r}.")
        elif not quiet:
            print("No kind cluster to delete.")
        return stopped
