"""Builds the operator's runtime from its configuration: clients, gateways, the shared observer."""

from __future__ import annotations

from azbatch_operator.cloud.clients import AzureClients, CloudEndpoints
from azbatch_operator.cloud.credentials import build_credential, credential_summary
from azbatch_operator.cloud.nodes import NodeGateway
from azbatch_operator.cloud.observer import AccountObserver
from azbatch_operator.cloud.pools import PoolGateway
from azbatch_operator.config import OperatorConfig
from azbatch_operator.disruption import DisruptionBudget
from azbatch_operator.kube.api import KubeGateway
from azbatch_operator.reconciler import Runtime


def build_runtime(config: OperatorConfig, *, kube: KubeGateway | None = None) -> tuple[Runtime, AzureClients]:
    credential = build_credential()
    clients = AzureClients(credential, CloudEndpoints.from_env(), budget=config.arm_request_budget)
    pools = PoolGateway(clients)
    nodes = NodeGateway(clients)
    observer = AccountObserver(
        pools,
        nodes,
        resync=config.resync_interval,
        health=config.health_interval,
        active=config.active_requeue,
    )
    runtime = Runtime(
        config=config,
        pools=pools,
        nodes=nodes,
        observer=observer,
        kube=kube or KubeGateway(),
        credential_summary=credential_summary(credential),
        budget=DisruptionBudget(limit=config.max_concurrent_recreates),
    )
    return runtime, clients
