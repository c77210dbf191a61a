"""Local Kubernetes API stand-in for tests and the demo.

kmock's Kubernetes emulator plus what kopf and kubectl rely on from a real API server
(see ``semantics`` for the rules and ``docs/kubemock.md`` for what is and is not faithful).
"""

from azbatch_kubemock.client import KubeApiError, KubeClient, WaitTimeoutError
from azbatch_kubemock.resources import CrdError, ResourceSpec
from azbatch_kubemock.standin import KubeStandIn
from azbatch_kubemock.threaded import KubeStandInThread

__all__ = [
    "CrdError",
    "KubeApiError",
    "KubeClient",
    "KubeStandIn",
    "KubeStandInThread",
    "ResourceSpec",
    "WaitTimeoutError",
]
