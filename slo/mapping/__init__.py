"""Turning what engines and GPUs expose into canonical SLIs, exactly, as the catalog says."""

from slo.mapping.continuity import Continuity
from slo.mapping.mapper import (
    MappingIssue,
    MappingNote,
    MappingResult,
    map_to_canonical,
    source_prefixes,
)
from slo.mapping.rebucket import HistogramError, Rebucketed, rebucket
from slo.mapping.schema import Schema, detect_dcgm, detect_vllm

__all__ = [
    "Continuity",
    "HistogramError",
    "MappingIssue",
    "MappingNote",
    "MappingResult",
    "Rebucketed",
    "Schema",
    "detect_dcgm",
    "detect_vllm",
    "map_to_canonical",
    "rebucket",
    "source_prefixes",
]
