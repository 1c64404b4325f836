"""OTLP traces in: pick out vLLM's `llm_request` spans and record what they say.

Spans of other names (vLLM's start-up spans, anything else an SDK sends) are accepted and ignored,
as OTLP requires of a receiver that does not want them. An `llm_request` span whose attributes
cannot be trusted is rejected and reported through OTLP partial success; the rest of the batch
still counts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from collector.fastspans import FastSpans
from collector.litepb import STRING, LiteSpan, RawTraceRequest, any_value, split_key_value
from collector.spans import SPAN_NAME, RequestObservation, SpanContextConfig, SpanRejected, observe_span
from collector.speedups import span_reader
from collector.store import Store

NAMESPACE_ATTRIBUTE: Final = "k8s.namespace.name"
POD_ATTRIBUTE: Final = "k8s.pod.name"
_K8S_KEYS: Final = frozenset((NAMESPACE_ATTRIBUTE, POD_ATTRIBUTE))


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What OTLP partial success reports: how many items were rejected and the first reason."""

    accepted: int
    rejected: int
    message: str = ""


def _never(span: bytes, model: str, tenant: str) -> RequestObservation | None:
    return None


def _ignore(span: bytes) -> None:
    return None


class TraceIngest:
    def __init__(
        self, store: Store, config: SpanContextConfig | None = None, *, fast_path: bool = True, speedups: bool = True
    ) -> None:
        """`fast_path=False`: every span through `observe_span` (the reference the fast paths are
        tested against). `speedups=False`: the learnt layouts even where the C reader is built."""
        config = config or SpanContextConfig()
        self._store = store
        self._config = config
        self._model_keys = frozenset(config.model_attributes)
        self._tenant_keys = frozenset(config.tenant_attributes)
        self._fast = FastSpans(config)
        self._fast_path = fast_path
        # The C reader (collector.speedups) where it is built; else the learnt layouts.
        self._reader = span_reader(config) if fast_path and speedups else None
        self.fast_spans = 0  # spans read by the C reader or a learnt layout, for tests and benches

    def ingest(self, body: bytes) -> IngestResult:
        """`body`: a serialized ExportTraceServiceRequest that already decoded cleanly (see
        collector.litepb for why the bytes, not the message). Each span is read by the C reader
        (collector.speedups) or, without it, a learnt layout (collector.fastspans) when one
        matches; else by `observe_span`, which then teaches its layout."""
        accepted = rejected = ignored = 0
        message = ""
        store = self._store
        config = self._config
        model_keys = self._model_keys
        tenant_keys = self._tenant_keys
        native = self._reader is not None
        fast = self._fast.observe if self._fast_path and not native else _never
        learn = self._fast.learn if self._fast_path and not native else _ignore
        fast_spans = 0
        for (model, tenant, namespace, pod), items, left in self._resources(body):
            fast_spans += len(items) - left
            observations: list[RequestObservation]
            if not left:
                observations = items  # type: ignore[assignment]  # no bytes left among them
            else:
                observations = []
                for item in items:
                    if not isinstance(item, bytes):
                        observations.append(item)
                        continue
                    raw = item
                    observation = fast(raw, model, tenant)
                    if observation is not None:
                        observations.append(observation)
                        fast_spans += 1
                        continue
                    span = LiteSpan.FromString(raw)
                    if span.name != SPAN_NAME:
                        ignored += 1
                        continue
                    try:
                        observations.append(observe_span(span, model, tenant, config, model_keys, tenant_keys))
                    except SpanRejected as exc:
                        rejected += 1
                        if not message:
                            message = f"span {span.span_id.hex() or '(no id)'}: {exc}"
                        continue
                    learn(raw)
            accepted += len(observations)
            if observations:
                with store.lock:
                    store.record_requests(observations, namespace, pod)
                    if pod:
                        store.learn_pod_model(namespace, pod, observations[-1].model)
        with store.lock:
            counts = store.counts.spans
            counts["accepted"] += accepted
            counts["rejected"] += rejected
            counts["ignored"] += ignored
            self.fast_spans += fast_spans
        if rejected:
            message = f"{rejected} llm_request span(s) rejected; first: {message}"
        return IngestResult(accepted + ignored, rejected, message)

    def _resources(self, body: bytes) -> list[tuple[tuple[str, str, str, str], list[RequestObservation | bytes], int]]:
        """Per ResourceSpans: its labels (model, tenant, namespace, pod), its spans in order (each
        an observation where the C reader read it, else its encoding), and how many are left
        encoded. The C reader walks the request itself; a request it declines, or a machine
        without it, goes through the lean protobuf view (collector.litepb)."""
        reader = self._reader
        if reader is not None:
            walked = reader.read_request(body, self._resource_labels)
            if walked is not None:
                return walked
        out: list[tuple[tuple[str, str, str, str], list[RequestObservation | bytes], int]] = []
        for resource_spans in RawTraceRequest.FromString(body).resource_spans:
            labels = self._resource_labels(resource_spans.resource.attributes)
            items: list[RequestObservation | bytes] = []
            left = 0
            for scope_spans in resource_spans.scope_spans:
                if reader is not None:
                    read, scope_left = reader.read_many(scope_spans.spans, labels[0], labels[1])
                    items += read
                    left += scope_left
                else:
                    items += scope_spans.spans
                    left += len(scope_spans.spans)
            out.append((labels, items, left))
        return out

    def _resource_labels(self, attributes: Iterable[bytes]) -> tuple[str, str, str, str]:
        """(model, tenant, namespace, pod) from resource attributes, model and tenant by the
        configured preference order."""
        found: dict[str, str] = {}
        wanted = self._model_keys | self._tenant_keys | _K8S_KEYS
        for kv in attributes:
            key_bytes, value_bytes = split_key_value(kv)
            key = key_bytes.decode()
            if key in wanted:
                kind, value = any_value(value_bytes)
                if kind == STRING and value:
                    found[key] = value
        config = self._config
        model = next((found[k] for k in config.model_attributes if k in found), "")
        tenant = next((found[k] for k in config.tenant_attributes if k in found), "")
        return model, tenant, found.get(NAMESPACE_ATTRIBUTE, ""), found.get(POD_ATTRIBUTE, "")
