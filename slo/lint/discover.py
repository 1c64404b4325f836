"""Which files to lint: named files always; in folders, YAML and JSON files, skipping hidden and
vendored folders and the config's `exclude` globs. Sorted, so output order never depends on the
file system."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

EXTENSIONS = (".yaml", ".yml", ".json")
SKIP_DIRS = frozenset({".git", ".venv", "venv", "node_modules", "__pycache__", ".mypy_cache", ".ruff_cache",
                       ".pytest_cache", ".tox", "site-packages"})
SKIP_FILES = frozenset({".slo-lint.yaml", ".pre-commit-hooks.yaml", ".pre-commit-config.yaml"})


class UsageError(Exception):
    """A path that does not exist: exit 2, not a finding."""


def _excluded(path: str, exclude: Iterable[str]) -> bool:
    return any(fnmatch.fnmatch(path, g) or fnmatch.fnmatch(Path(path).as_posix(), g) for g in exclude)


def discover(paths: Iterable[str], exclude: Iterable[str] = ()) -> tuple[list[str], set[str]]:
    """(files to lint, the subset named explicitly)."""
    exclude = tuple(exclude)
    files: set[str] = set()
    explicit: set[str] = set()
    for raw in paths:
        if os.path.isdir(raw):
            for root, dirs, names in os.walk(raw):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for name in names:
                    full = os.path.join(root, name)
                    if name.endswith(EXTENSIONS) and name not in SKIP_FILES and not _excluded(full, exclude):
                        files.add(full)
        elif os.path.exists(raw):
            files.add(raw)
            explicit.add(raw)
        else:
            raise UsageError(f"{raw}: no such file or directory")
    return sorted(files), explicit
