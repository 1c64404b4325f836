"""Placeholder: this package's `llmslo` subcommands are registered here."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """No subcommands yet."""
