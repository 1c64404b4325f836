"""The OTel processor service that derives SLIs from vLLM spans and OTLP metrics (issue 7)."""
