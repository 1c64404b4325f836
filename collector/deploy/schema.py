"""The configuration keys each otelcol-contrib component accepts, at the pinned collector version,
written down with where they were read (docs/collector-schema.md renders the same facts).

No collector binary can run here, so the generated configuration is checked against these facts
instead: every key the generator writes must be one the component's Go `Config` struct
(`mapstructure` tags, squashed embedded structs expanded) declares. A tree is a dict of allowed
keys; `ANY` accepts any value; a one-element list means "a list of this".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

COLLECTOR_VERSION: Final = "0.115.0"
COLLECTOR_IMAGE: Final = f"otel/opentelemetry-collector-contrib:{COLLECTOR_VERSION}"
OPERATOR_API: Final = "opentelemetry.io/v1beta1"

ANY: Final = None
Tree = Mapping[str, Any] | list[Any] | None


@dataclass(frozen=True, slots=True)
class ComponentSchema:
    type: str  # the component type as written in the config (`memory_limiter`, `otlphttp`, ...)
    kind: str  # receiver | processor | exporter
    keys: Mapping[str, Any]
    source: str  # where the keys were read
    notes: str = ""


_TLS_CLIENT: Final = {"insecure": ANY, "insecure_skip_verify": ANY, "ca_file": ANY, "cert_file": ANY,
                      "key_file": ANY, "server_name_override": ANY}
# confighttp.ClientConfig (squashed into HTTP exporters). Keys from the confighttp package README;
# the exporters' config.go files embed it with `mapstructure:",squash"`.
_HTTP_CLIENT: Final = {"endpoint": ANY, "tls": _TLS_CLIENT, "timeout": ANY, "compression": ANY, "headers": ANY,
                       "read_buffer_size": ANY, "write_buffer_size": ANY, "auth": ANY}
_QUEUE: Final = {"enabled": ANY, "num_consumers": ANY, "queue_size": ANY, "storage": ANY}
_RETRY: Final = {"enabled": ANY, "initial_interval": ANY, "randomization_factor": ANY, "multiplier": ANY,
                 "max_interval": ANY, "max_elapsed_time": ANY}
_RELABEL: Final = [{"source_labels": ANY, "separator": ANY, "regex": ANY, "modulus": ANY, "target_label": ANY,
                    "replacement": ANY, "action": ANY}]
_SCRAPE: Final = [{
    "job_name": ANY, "scrape_interval": ANY, "scrape_timeout": ANY, "metrics_path": ANY, "scheme": ANY,
    "honor_labels": ANY, "honor_timestamps": ANY, "params": ANY, "sample_limit": ANY, "label_limit": ANY,
    "kubernetes_sd_configs": [{"role": ANY, "namespaces": {"names": ANY, "own_namespace": ANY}, "selectors": ANY,
                               "api_server": ANY}],
    "static_configs": [{"targets": ANY, "labels": ANY}],
    "relabel_configs": _RELABEL, "metric_relabel_configs": _RELABEL,
}]

CONTRIB: Final = "https://github.com/open-telemetry/opentelemetry-collector-contrib/blob"
CORE: Final = "https://github.com/open-telemetry/opentelemetry-collector/blob"

COMPONENTS: Final[tuple[ComponentSchema, ...]] = (
    ComponentSchema(
        "otlp", "receiver",
        {"protocols": {
            "grpc": {"endpoint": ANY, "max_recv_msg_size_mib": ANY, "max_concurrent_streams": ANY, "tls": ANY,
                     "keepalive": ANY, "include_metadata": ANY},
            "http": {"endpoint": ANY, "traces_url_path": ANY, "metrics_url_path": ANY, "logs_url_path": ANY,
                     "max_request_body_size": ANY, "tls": ANY, "cors": ANY, "include_metadata": ANY},
        }},
        f"{CORE}/0032552a0f537d786d21ce11b26e86bf199b09ee/receiver/otlpreceiver/config.go (protocols.grpc is "
        "configgrpc server settings, protocols.http confighttp server settings: endpoint, tls, ...)",
    ),
    ComponentSchema(
        "prometheus", "receiver",
        {"config": {"global": {"scrape_interval": ANY, "scrape_timeout": ANY, "external_labels": ANY},
                    "scrape_configs": _SCRAPE},
         "buffer_period": ANY, "buffer_count": ANY, "use_start_time_metric": ANY, "start_time_metric_regex": ANY,
         "report_extra_metrics": ANY, "target_allocator": ANY},
        f"{CONTRIB}/00d77e7c05e6e8af32f0c92b3833b4c3200c5c56/receiver/prometheusreceiver/config.go (`config` is "
        "a Prometheus config, unmarshalled strictly: scrape_configs, kubernetes_sd_configs, relabel_configs as in "
        "Prometheus' docs; remote_write, remote_read, rule_files and alerting are rejected)",
        notes="`$` in a value is expanded by the collector's config resolver; write `$$` for a literal `$` "
        "(relabel `replacement: $1` must be `$$1`). The generator never writes `$` (the default replacement is $1).",
    ),
    ComponentSchema(
        "memory_limiter", "processor",
        {"check_interval": ANY, "limit_mib": ANY, "spike_limit_mib": ANY, "limit_percentage": ANY,
         "spike_limit_percentage": ANY, "min_gc_interval_when_soft_limited": ANY,
         "min_gc_interval_when_hard_limited": ANY},
        f"{CORE}/30f3e183371fe4ae42cb0a631347fcbe25a426b4/internal/memorylimiter/config.go (GCStatsConfig, "
        "squashed; Validate: check_interval > 0, limit_mib or limit_percentage > 0, spike < limit)",
        notes="Must be the first processor of each pipeline (component README).",
    ),
    ComponentSchema(
        "batch", "processor",
        {"timeout": ANY, "send_batch_size": ANY, "send_batch_max_size": ANY, "metadata_keys": ANY,
         "metadata_cardinality_limit": ANY},
        f"{CORE}/c475f4448ff8b7ce8d1551bdbcda7606cc00a821/processor/batchprocessor/config.go (Validate: "
        "send_batch_max_size >= send_batch_size when set; timeout >= 0)",
    ),
    ComponentSchema(
        "k8sattributes", "processor",
        {"auth_type": ANY, "passthrough": ANY,
         "extract": {"metadata": ANY, "labels": ANY, "annotations": ANY, "otel_annotations": ANY},
         "filter": {"node": ANY, "node_from_env_var": ANY, "namespace": ANY, "fields": ANY, "labels": ANY},
         "pod_association": [{"sources": [{"from": ANY, "name": ANY}]}],
         "exclude": {"pods": [{"name": ANY}]}, "wait_for_metadata": ANY, "wait_for_metadata_timeout": ANY},
        f"{CONTRIB}/08858ca637a95a327c6ec696e4b7b1b1b30f892d/processor/k8sattributesprocessor/config.go "
        "(k8sconfig.APIConfig squashed: auth_type; pod_association.sources.from is `connection` or "
        "`resource_attribute`; extract.metadata values are checked by Validate)",
    ),
    ComponentSchema(
        "otlphttp", "exporter",
        {**_HTTP_CLIENT, "traces_endpoint": ANY, "metrics_endpoint": ANY, "logs_endpoint": ANY, "encoding": ANY,
         "sending_queue": _QUEUE, "retry_on_failure": _RETRY},
        f"{CORE}/04057652040f758d245351557b0783129e07df18/exporter/otlphttpexporter/config.go (confighttp "
        "client settings squashed; encoding proto|json; Validate: some endpoint set)",
    ),
    ComponentSchema(
        "prometheusremotewrite", "exporter",
        {**_HTTP_CLIENT, "namespace": ANY, "external_labels": ANY, "remote_write_queue":
            {"enabled": ANY, "queue_size": ANY, "num_consumers": ANY},
         "resource_to_telemetry_conversion": {"enabled": ANY}, "wal": ANY, "target_info": {"enabled": ANY},
         "export_created_metric": {"enabled": ANY}, "add_metric_suffixes": ANY, "retry_on_failure": _RETRY},
        f"{CONTRIB}/000bb0b42cf1abacefcdf086d659e7f73f2bca5e/exporter/prometheusremotewriteexporter/config.go "
        "(TimeoutSettings and HTTP client squashed; resource_to_telemetry_conversion.enabled)",
    ),
)

BY_TYPE: Final = {(c.kind, c.type): c for c in COMPONENTS}

SERVICE_KEYS: Final = {"pipelines": ANY, "telemetry": ANY, "extensions": ANY}
PIPELINE_KEYS: Final = {"receivers": ANY, "processors": ANY, "exporters": ANY}
TOP_KEYS: Final = ("receivers", "processors", "exporters", "connectors", "extensions", "service")

OPERATOR_SPEC: Final = {
    "mode": ANY, "image": ANY, "replicas": ANY, "serviceAccount": ANY, "config": ANY, "env": ANY,
    "resources": ANY, "ports": ANY, "args": ANY, "upgradeStrategy": ANY, "managementState": ANY,
}
OPERATOR_SOURCE: Final = ("https://github.com/open-telemetry/opentelemetry-operator/blob/"
                          "02050459df6d7fee335ded9612073504c5beaf7f/apis/v1beta1/opentelemetrycollector_types.go "
                          "(OpenTelemetryCollectorSpec: `config` required, an object with PreserveUnknownFields; "
                          "`mode` deployment|daemonset|statefulset|sidecar; image, replicas, serviceAccount, env, "
                          "resources, ports, args come inline from OpenTelemetryCommonFields)")
OPERATOR_MODES: Final = ("daemonset", "deployment", "sidecar", "statefulset")


def _check(value: Any, tree: Tree, path: str, problems: list[str]) -> None:
    if tree is None:
        return
    if isinstance(tree, list):
        if not isinstance(value, list):
            problems.append(f"{path}: expected a list, got {type(value).__name__}")
            return
        for i, item in enumerate(value):
            _check(item, tree[0], f"{path}[{i}]", problems)
        return
    if not isinstance(value, dict):
        problems.append(f"{path}: expected a mapping, got {type(value).__name__}")
        return
    for key, item in value.items():
        if key not in tree:
            problems.append(f"{path}.{key}: not a key of this component (known: {', '.join(sorted(tree))})")
        else:
            _check(item, tree[key], f"{path}.{key}", problems)


def check_config(config: Mapping[str, Any]) -> list[str]:
    """Every problem with an otelcol config against the schema facts; empty when it conforms."""
    problems: list[str] = []
    for key in config:
        if key not in TOP_KEYS:
            problems.append(f"{key}: not a top-level section ({', '.join(TOP_KEYS)})")
    declared: dict[str, set[str]] = {}
    for kind in ("receiver", "processor", "exporter"):
        section = config.get(kind + "s", {}) or {}
        declared[kind] = set(section)
        for name, body in section.items():
            ctype = name.split("/", 1)[0]
            schema = BY_TYPE.get((kind, ctype))
            if schema is None:
                problems.append(f"{kind}s.{name}: component type {ctype!r} has no schema facts here")
                continue
            _check(body or {}, schema.keys, f"{kind}s.{name}", problems)
            if ctype == "memory_limiter":
                body = body or {}
                if not body.get("check_interval") or not (body.get("limit_mib") or body.get("limit_percentage")):
                    problems.append(f"processors.{name}: needs check_interval and limit_mib or limit_percentage")
    service = config.get("service", {})
    _check(service, SERVICE_KEYS, "service", problems)
    for pname, pipeline in (service.get("pipelines") or {}).items():
        _check(pipeline, PIPELINE_KEYS, f"service.pipelines.{pname}", problems)
        for kind in ("receiver", "processor", "exporter"):
            for ref in pipeline.get(kind + "s", []):
                if ref not in declared[kind]:
                    problems.append(f"service.pipelines.{pname}.{kind}s: {ref!r} is not declared under {kind}s")
        processors = pipeline.get("processors", [])
        if any(p.startswith("memory_limiter") for p in processors) and not processors[0].startswith("memory_limiter"):
            problems.append(f"service.pipelines.{pname}: memory_limiter must be the first processor")
        if not pipeline.get("receivers") or not pipeline.get("exporters"):
            problems.append(f"service.pipelines.{pname}: needs at least one receiver and one exporter")
    return problems


def check_operator_resource(resource: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    if resource.get("apiVersion") != OPERATOR_API or resource.get("kind") != "OpenTelemetryCollector":
        problems.append(f"expected apiVersion {OPERATOR_API} kind OpenTelemetryCollector")
    spec = resource.get("spec", {})
    _check(spec, OPERATOR_SPEC, "spec", problems)
    if spec.get("mode") not in OPERATOR_MODES:
        problems.append(f"spec.mode has value {spec.get('mode')!r}. Must be one of {', '.join(OPERATOR_MODES)}.")
    if not isinstance(spec.get("config"), dict):
        problems.append("spec.config must be an object in v1beta1")
    else:
        problems.extend(f"spec.config.{p}" for p in check_config(spec["config"]))
    return problems
