"""The one C extension, optional: slo.mapping._planscan (see its source for why it exists).

Everything else about the package lives in pyproject.toml. A machine without a C compiler still
installs llmslo and runs the pure-Python plan (`slo.mapping.compiled` falls back by itself); the
project's test command sets LLMSLO_REQUIRE_SPEEDUPS=1, so CI fails instead of testing less.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "slo.mapping._planscan",
            sources=["slo/mapping/_planscan.c"],
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration"],
            optional=True,
        )
    ]
)
