"""`dacu plan baseline` and `dacu plan build` (registered on the `plan` group)."""

from __future__ import annotations
