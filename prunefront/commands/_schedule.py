"""``prunefront schedule``: the polynomial pruning schedule at the given steps."""

from __future__ import annotations

from typing import Annotated

import typer

from prunefront._output import emit_json, print_table, stderr_console
from prunefront.commands._options import JsonOpt, parse_int_list

__all__ = ["schedule"]


def schedule(
    final: Annotated[float, typer.Option("--final", help="Final sparsity s_f in [0, 1).")],
    end_step: Annotated[int, typer.Option("--end-step", help="Last pruning step.")],
    steps: Annotated[
        str, typer.Option("--steps", help="Steps to evaluate: 0,10,20 or start:stop:step.")
    ],
    initial: Annotated[float, typer.Option("--initial", help="Initial sparsity s_i.")] = 0.0,
    begin_step: Annotated[int, typer.Option("--begin-step", help="First pruning step.")] = 0,
    frequency: Annotated[int, typer.Option("--frequency", help="Steps between updates.")] = 100,
    power: Annotated[float, typer.Option("--power", help="Exponent (3 = the paper).")] = 3.0,
    as_json: JsonOpt = False,
) -> None:
    """Evaluate the polynomial pruning schedule at the given steps."""
    from prunefront.pruning import PolynomialDecay

    sched = PolynomialDecay(
        initial_sparsity=initial,
        final_sparsity=final,
        begin_step=begin_step,
        end_step=end_step,
        frequency=frequency,
        power=power,
    )
    points = sched.points(parse_int_list(steps, "--steps"))
    if as_json:
        emit_json({"points": [p.to_dict() for p in points], "notes": sched.notes})
        return
    rows = [(p.step, p.sparsity, "yes" if p.mask_update else "", p.mask_sparsity) for p in points]
    print_table("schedule", ["step", "sparsity", "mask update", "mask sparsity"], rows)
    for note in sched.notes:
        stderr_console.print(f"note: {note}")
