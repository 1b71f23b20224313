"""What lock, bump and matrix exclude, in one place: builds the fleet cannot run and broken releases before
resolving; after a resolve, builds whose CUDA disagrees with torch and pairs that match a hidden requirement.

The two hooks return different things, each with its own named type (lockgen.plan.exclusions): a constraint written
before resolving (`PreExclusion`) and a version excluded after one (`Excluded`). lockgen.ops.resolve runs both
unless its caller opts out.
"""

from __future__ import annotations

from collections.abc import Callable

from lockgen.model.workspace import Workspace
from lockgen.plan import hidden, steering
from lockgen.plan.exclusions import Excluded, PreExclusion, merged

PreExclude = Callable[[Workspace], list[PreExclusion]]
Steer = Callable[[Workspace], list[Excluded]]


def pre_exclude(ws: Workspace) -> list[PreExclusion]:
    """Exclusions before resolving: builds the fleet cannot run (tables/data/builds.toml), broken releases
    (tables/data/hidden.toml)."""
    return steering.pre_exclude(ws) + hidden.pre_exclude(ws)


def steer(ws: Workspace) -> list[Excluded]:
    """Exclusions after a resolve: builds whose CUDA disagrees with torch, pairs that match a hidden requirement."""
    return merged(steering.steer(ws) + hidden.steer(ws))
