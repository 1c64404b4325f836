# The llmslo image the Kubernetes examples use (deploy/kubernetes): the sidecars, the proxy, the collector
# and the generators, in one small image. Build: docker build -t llmslo:0.1.0 .
FROM python:3.11-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY slo ./slo
COPY exporters ./exporters
COPY collector ./collector
COPY dashboards ./dashboards
COPY llmslo_demo ./llmslo_demo
RUN pip install --no-cache-dir . && rm -rf /src
USER 65534:65534
ENTRYPOINT []
CMD ["llmslo", "--help"]
