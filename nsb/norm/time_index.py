"""The check shared by the norms whose parameters are indexed by time step (TEBN, BNTT)."""

from __future__ import annotations

from nsb.errors import NsbError


def check_steps(name: str, t0: int, steps: int, built_for: int) -> None:
    if t0 < 0 or t0 + steps > built_for:
        raise NsbError(f"{name} was built for {built_for} time steps but steps {t0}..{t0 + steps - 1} were asked "
                       f"for; build the model with the sequence length (data time_steps) it will see")
