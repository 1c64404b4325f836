# The llmslo image the Kubernetes examples use (deploy/kubernetes): the sidecars, the proxy, the collector
# and the generators, in one small image. Build: docker build -t llmslo:0.1.0 .
# Two stages: the wheel is built where a C compiler is (the sidecar's scrape plan has an optional C
# extension, setup.py), and only the installed result goes into the runtime image.
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY slo ./slo
COPY exporters ./exporters
COPY collector ./collector
COPY dashboards ./dashboards
COPY llmslo_demo ./llmslo_demo
RUN pip wheel --no-cache-dir --wheel-dir /wheels . \
    && python -c "import sys, zipfile, glob; w = glob.glob('/wheels/llmslo-*.whl')[0]; \
sys.exit(not any('_planscan' in n and n.endswith('.so') for n in zipfile.ZipFile(w).namelist()))"

FROM python:3.11-slim
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir --no-index --find-links /wheels llmslo && rm -rf /wheels
USER 65534:65534
ENTRYPOINT []
CMD ["llmslo", "--help"]
