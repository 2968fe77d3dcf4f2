"""The few Kubernetes API calls the tutorial makes, through the official ``kubernetes`` client.

One small class, so tests can replace it with a recorder and check every call: the object
applied, the namespace, the label selector.
"""

from __future__ import annotations

from typing import Any

from helpers.backends.base import BackendError

FIELD_MANAGER = "rayservice-tutorial"
RAYSERVICE = ("ray.io", "v1", "rayservices")


class KubeAPI:
    def __init__(self, context: str | None = None):
        import os

        from kubernetes import client, config, dynamic

        try:
            # KUBECONFIG is read now (the client reads it once, at import).
            api_client = config.new_client_from_config(config_file=os.environ.get("KUBECONFIG"), context=context)
        except Exception as exc:  # noqa: BLE001 - kubeconfig problems come in many types
            raise BackendError(
                f"Cannot load the kubeconfig{f' context {context!r}' if context else ''}: {exc}. "
                "Check `kubectl config get-contexts`."
            ) from None
        self.core = client.CoreV1Api(api_client)
        self.apps = client.AppsV1Api(api_client)
        self.custom = client.CustomObjectsApi(api_client)
        self.extensions = client.ApiextensionsV1Api(api_client)
        self.dynamic = dynamic.DynamicClient(api_client)
        self._exception = client.ApiException

    def _call(self, what: str, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except self._exception as exc:
            if exc.status == 404:
                return None
            raise BackendError(f"Kubernetes API: {what} failed ({exc.status} {exc.reason}): {exc.body}") from None

    def apply(self, obj: dict[str, Any]) -> dict[str, Any]:
        """Server-side apply of any object (what `kubectl apply --server-side` does)."""
        resource = self.dynamic.resources.get(api_version=obj["apiVersion"], kind=obj["kind"])
        namespace = obj["metadata"].get("namespace")
        result = self._call(
            f"apply {obj['kind']} {obj['metadata']['name']}",
            resource.server_side_apply,
            body=obj,
            namespace=namespace,
            field_manager=FIELD_MANAGER,
            force_conflicts=True,
        )
        return result.to_dict() if result is not None else {}

    def get_rayservice(self, namespace: str, name: str) -> dict[str, Any] | None:
        group, version, plural = RAYSERVICE
        return self._call(
            f"get RayService {name}", self.custom.get_namespaced_custom_object, group, version, namespace, plural, name
        )

    def delete_rayservice(self, namespace: str, name: str) -> None:
        group, version, plural = RAYSERVICE
        self._call(
            f"delete RayService {name}",
            self.custom.delete_namespaced_custom_object,
            group,
            version,
            namespace,
            plural,
            name,
        )

    def crd_installed(self, name: str = "rayservices.ray.io") -> bool:
        return self._call(f"read CRD {name}", self.extensions.read_custom_resource_definition, name) is not None

    def list_pods(self, namespace: str, selector: str) -> list[dict[str, Any]]:
        pods = self._call("list pods", self.core.list_namespaced_pod, namespace, label_selector=selector)
        return [p.to_dict() for p in pods.items] if pods else []

    def delete_pod(self, namespace: str, name: str) -> None:
        self._call(f"delete pod {name}", self.core.delete_namespaced_pod, name, namespace)

    def read_secret(self, namespace: str, name: str) -> dict[str, str] | None:
        """The Secret's data (still base64-encoded, as the API returns it), or None if there is none."""
        secret = self._call(f"read secret {name}", self.core.read_namespaced_secret, name, namespace)
        return dict(secret.data or {}) if secret is not None else None

    def list_events(self, namespace: str) -> list[dict[str, Any]]:
        events = self._call("list events", self.core.list_namespaced_event, namespace)
        return [e.to_dict() for e in events.items] if events else []

    def deployment_available(self, namespace: str, name: str) -> bool:
        deployment = self._call(f"read deployment {name}", self.apps.read_namespaced_deployment, name, namespace)
        if deployment is None:
            return False
        conditions = deployment.status.conditions or []
        return any(c.type == "Available" and c.status == "True" for c in conditions)

    def delete_namespace(self, name: str) -> None:
        self._call(f"delete namespace {name}", self.core.delete_namespace, name)

    def delete_configmap(self, namespace: str, name: str) -> None:
        self._call(f"delete configmap {name}", self.core.delete_namespaced_config_map, name, namespace)
