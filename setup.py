"""The C extensions, both optional: slo.mapping._planscan (the sidecar's scrape plan) and
collector._spanscan (the collector's span ingest); each source says why it exists.

Everything else about the package lives in pyproject.toml. A machine without a C compiler still
installs llmslo and runs pure Python (`slo.mapping.compiled` and `collector.speedups` fall back); the
project's test command sets LLMSLO_REQUIRE_SPEEDUPS=1, so CI fails instead of testing less.
"""

from setuptools import Extension, setup

FLAGS = ["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"]

setup(
    ext_modules=[
        Extension("slo.mapping._planscan", sources=["slo/mapping/_planscan.c"], extra_compile_args=FLAGS,
                  optional=True),
        Extension("collector._spanscan", sources=["collector/_spanscan.c"], extra_compile_args=FLAGS,
                  optional=True),
    ]
)
