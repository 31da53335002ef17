"""Entry point of the Dagster code location (`workspace.yaml`, `[tool.dagster]`)."""

from .defs import build_defs

defs = build_defs()
