"""Kubernetes manifests: the processor (ConfigMap with goodput targets, Deployment, Service), the
collector's RBAC (k8sattributes and pod discovery read pods, namespaces, replica sets), and the
OpenTelemetryCollector resource that the OpenTelemetry Operator turns into the otelcol Deployment."""

from __future__ import annotations

from typing import Any, Final

import yaml

from collector.deploy.otelcol import (
    OTELCOL_NAME,
    OTLP_GRPC_PORT,
    OTLP_HTTP_PORT,
    PROCESSOR_NAME,
    SLIS_HTTP_PORT,
    ConfigOptions,
    build_config,
)
from collector.deploy.schema import COLLECTOR_IMAGE, OPERATOR_API
from collector.goodput import GoodputSLO

PROCESSOR_IMAGE: Final = "ghcr.io/llmslo/llmslo:0.1.0"
LABELS: Final = {"app.kubernetes.io/name": PROCESSOR_NAME, "app.kubernetes.io/part-of": "llmslo"}


def _meta(name: str, namespace: str | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": dict(LABELS)}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def goodput_document(slos: tuple[GoodputSLO, ...]) -> dict[str, Any]:
    return {"goodput": [
        {"name": s.name, "targets": dict(s.targets), **({"models": sorted(s.models)} if s.models else {})}
        for s in slos
    ]}


def processor_manifests(options: ConfigOptions, slos: tuple[GoodputSLO, ...]) -> list[dict[str, Any]]:
    ns = options.namespace
    slis_endpoint = f"http://{OTELCOL_NAME}-collector.{ns}.svc:{SLIS_HTTP_PORT}/v1/metrics"
    args = ["collector", "serve", "--http-port", str(OTLP_HTTP_PORT), "--grpc-port", str(OTLP_GRPC_PORT),
            "--otlp-endpoint", slis_endpoint]
    if slos:
        args += ["--goodput-targets", "/etc/llmslo/goodput.yaml"]
    probe = {"httpGet": {"path": "/readyz", "port": "otlp-http"}, "periodSeconds": 10}
    container: dict[str, Any] = {
        "name": "collector",
        "image": PROCESSOR_IMAGE,
        "command": ["llmslo"],
        "args": args,
        "ports": [{"name": "otlp-http", "containerPort": OTLP_HTTP_PORT, "protocol": "TCP"},
                  {"name": "otlp-grpc", "containerPort": OTLP_GRPC_PORT, "protocol": "TCP"}],
        "readinessProbe": probe,
        "livenessProbe": {**probe, "httpGet": {"path": "/livez", "port": "otlp-http"}},
        "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}, "limits": {"memory": "1Gi"}},
        "securityContext": {"runAsNonRoot": True, "allowPrivilegeEscalation": False,
                            "readOnlyRootFilesystem": True, "capabilities": {"drop": ["ALL"]}},
    }
    pod_spec: dict[str, Any] = {"containers": [container]}
    if slos:
        container["volumeMounts"] = [{"name": "goodput", "mountPath": "/etc/llmslo", "readOnly": True}]
        pod_spec["volumes"] = [{"name": "goodput", "configMap": {"name": f"{PROCESSOR_NAME}-goodput"}}]
    out: list[dict[str, Any]] = []
    if slos:
        out.append({"apiVersion": "v1", "kind": "ConfigMap", "metadata": _meta(f"{PROCESSOR_NAME}-goodput", ns),
                    "data": {"goodput.yaml": yaml.safe_dump(goodput_document(slos), sort_keys=True)}})
    out.append({
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": _meta(PROCESSOR_NAME, ns),
        "spec": {
            # One replica: span-derived histograms are per-process state; scale by sharding vLLM pods
            # across processors, not by replicas behind one Service.
            "replicas": 1,
            "selector": {"matchLabels": {"app.kubernetes.io/name": PROCESSOR_NAME}},
            "template": {"metadata": {"labels": dict(LABELS), "annotations": {
                "prometheus.io/scrape": "true", "prometheus.io/port": str(OTLP_HTTP_PORT),
                "prometheus.io/path": "/metrics"}}, "spec": pod_spec},
        },
    })
    out.append({
        "apiVersion": "v1", "kind": "Service", "metadata": _meta(PROCESSOR_NAME, ns),
        "spec": {"selector": {"app.kubernetes.io/name": PROCESSOR_NAME}, "ports": [
            {"name": "otlp-http", "port": OTLP_HTTP_PORT, "targetPort": "otlp-http", "protocol": "TCP"},
            {"name": "otlp-grpc", "port": OTLP_GRPC_PORT, "targetPort": "otlp-grpc", "protocol": "TCP"},
        ]},
    })
    return out


def rbac_manifests(options: ConfigOptions) -> list[dict[str, Any]]:
    ns = options.namespace
    return [
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": _meta(OTELCOL_NAME, ns)},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": _meta(OTELCOL_NAME, None),
         "rules": [
             {"apiGroups": [""], "resources": ["pods", "namespaces", "nodes", "endpoints", "services"],
              "verbs": ["get", "list", "watch"]},
             {"apiGroups": ["apps"], "resources": ["replicasets"], "verbs": ["get", "list", "watch"]},
         ]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": _meta(OTELCOL_NAME, None),
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": OTELCOL_NAME},
         "subjects": [{"kind": "ServiceAccount", "name": OTELCOL_NAME, "namespace": ns}]},
    ]


def collector_resource(options: ConfigOptions) -> dict[str, Any]:
    return {
        "apiVersion": OPERATOR_API, "kind": "OpenTelemetryCollector",
        "metadata": _meta(OTELCOL_NAME, options.namespace),
        "spec": {"mode": "deployment", "image": COLLECTOR_IMAGE, "replicas": 1, "serviceAccount": OTELCOL_NAME,
                 "config": build_config(options)},
    }
