"""What lock, bump and matrix exclude, in one place: builds the fleet cannot run and broken releases before
resolving; after a resolve, builds whose CUDA disagrees with torch and pairs that match a hidden requirement."""

from __future__ import annotations

from typing import Any


def pre_exclude(ws: Any) -> list[tuple[str, str, str]]:
    """Exclusions before resolving: builds the fleet cannot run (tables/data/builds.toml), broken releases
    (tables/data/hidden.toml)."""
    from lockgen.plan import hidden, steering

    return steering.pre_exclude(ws) + hidden.pre_exclude(ws)


def steer(ws: Any) -> list[tuple[str, str, str]]:
    """Exclusions after a resolve: builds whose CUDA disagrees with torch, pairs that match a hidden requirement."""
    from lockgen.plan import hidden, steering

    return steering.steer(ws) + hidden.steer(ws)
