"""The benchmark's results: what one scenario measured, and the Markdown tables of a run."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from bench.generate import Size
from bench.load import Measured
from bench.scenarios import Scenario


@dataclass
class Result:
    """One scenario of one run: both sides measured, or why the GraphQL side could not be."""

    scenario: Scenario
    graphql: Measured | None = None
    raw: Measured | None = None
    unavailable: str | None = None  # the API cannot answer the question yet: why
    answers_checked: int = 0
    answers_equal: int = 0
    first_difference: str | None = None
    parameter_sets: int = 0


@dataclass
class Report:
    """A run on one data set."""

    size: Size
    started_utc: str
    environment: list[str]
    counts: dict[str, int]
    load_seconds: float | None
    settings: str
    results: list[Result] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _num(value: float, digits: int = 0) -> str:
    if value is None or math.isnan(value):
        return "—"
    return f"{value:,.{digits}f}"


def _ms(value: float) -> str:
    if math.isnan(value):
        return "—"
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _target(result: Result, size: Size) -> str:
    target = result.scenario.target
    if target is None:
        return "—"
    if size.name != "small":
        return f"≥ {target:.0f} (small only)"
    if result.graphql is None:
        return f"≥ {target:.0f}"
    met = "met" if result.graphql.median.rps >= target else "**missed**"
    return f"≥ {target:.0f}: {met}"


def main_table(report: Report) -> list[str]:
    """scenario | GraphQL req/s | p50 | p99 | raw SQL req/s | p50 | p99 | raw÷GraphQL | target."""
    lines = [
        "| scenario | GraphQL req/s | p50 ms | p99 ms | raw SQL req/s | p50 ms | p99 ms "
        "| raw÷GraphQL | target (GraphQL req/s) |",
        "|---|--:|--:|--:|--:|--:|--:|--:|---|",
    ]
    for r in report.results:
        name = f"({r.scenario.key}) {r.scenario.title}"
        raw = r.raw.median if r.raw else None
        raw_cells = (
            [_num(raw.rps), _ms(raw.percentile_ms(50)), _ms(raw.percentile_ms(99))]
            if raw
            else ["—"] * 3
        )
        if r.graphql is None:
            reason = r.unavailable or "not run"
            cells = [f"not available ({reason})", "—", "—", *raw_cells, "—"]
        else:
            g = r.graphql.median
            ratio = raw.rps / g.rps if raw and g.rps else float("nan")
            cells = [
                _num(g.rps),
                _ms(g.percentile_ms(50)),
                _ms(g.percentile_ms(99)),
                *raw_cells,
                f"{ratio:.1f}×" if not math.isnan(ratio) else "—",
            ]
        lines.append(f"| {name} | " + " | ".join([*cells, _target(r, report.size)]) + " |")
    return lines


def cost_table(report: Report) -> list[str]:
    """Where the time goes: CPU per request on each side, statements, spread of the rounds."""
    lines = [
        "| scenario | API process CPU ms/req | PostgreSQL CPU ms/req (GraphQL) "
        "| DB statements/req (GraphQL) | PostgreSQL CPU ms/req (raw) | client CPU ms/req "
        "(GraphQL / raw) | answered from the response cache | req/s of the rounds (GraphQL; raw) "
        "| errors | same answer |",
        "|---|--:|--:|--:|--:|--:|--:|---|--:|---|",
    ]
    for r in report.results:
        g = r.graphql.median if r.graphql else None
        raw = r.raw.median if r.raw else None
        spread = []
        for side in (r.graphql, r.raw):
            if side is None:
                spread.append("—")
            else:
                spread.append(", ".join(_num(x.rps) for x in side.rounds))
        errors = sum(x.errors for side in (r.graphql, r.raw) if side for x in side.rounds)
        same = (f"{r.answers_equal}/{r.answers_checked}" if r.answers_checked else "—") + (
            f" ({r.first_difference})" if r.first_difference else ""
        )
        lines.append(
            "| "
            + " | ".join(
                [
                    f"({r.scenario.key})",
                    _ms(g.per_request_ms(g.server_cpu_s)) if g else "—",
                    _ms(g.per_request_ms(g.db_cpu_s)) if g else "—",
                    f"{g.db_transactions / g.requests:.1f}" if g and g.requests else "—",
                    _ms(raw.per_request_ms(raw.db_cpu_s)) if raw else "—",
                    " / ".join(
                        _ms(x.per_request_ms(x.client_cpu_s)) if x else "—" for x in (g, raw)
                    ),
                    f"{100 * g.cache_hits / g.requests:.0f} %" if g and g.requests else "—",
                    "; ".join(spread),
                    str(errors),
                    same,
                ]
            )
            + " |"
        )
    return lines


def render(report: Report) -> str:
    """The whole report as Markdown."""
    counts = ", ".join(f"{n:,} {table}" for table, n in report.counts.items())
    loaded = (
        f"generated and loaded in {report.load_seconds:.1f} s"
        if report.load_seconds is not None
        else "reused from an earlier run"
    )
    lines = [
        f"# Benchmark: {report.size.name} data set, {report.started_utc}",
        "",
        *(f"- {line}" for line in report.environment),
        f"- Data ({loaded}): {counts}",
        f"- {report.settings}",
        "",
        *main_table(report),
        "",
        "## Where the time goes (median round)",
        "",
        *cost_table(report),
        "",
        "CPU is read from /proc for the server process, the PostgreSQL backends serving it "
        "(or the raw SQL connections) and this client; statements per request come from "
        "pg_stat_database's transaction counter (each autocommitted statement is one), which "
        "backends publish about once a second, so they are approximate.",
    ]
    if report.notes:
        lines += ["", "## Notes", "", *(f"- {note}" for note in report.notes)]
    return "\n".join(lines) + "\n"
