"""A fake Kubernetes API that plays KubeRay's RayService timeline: see timeline.py."""

from .timeline import KubeRayTimeline

__all__ = ["KubeRayTimeline"]
