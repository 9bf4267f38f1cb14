"""RCA -> text (rich), markdown, JSON or YAML."""

from __future__ import annotations

import json
from typing import TextIO

from copilot.rca import RCA

FORMATS = ("text", "json", "yaml", "markdown")


def to_json(rca: RCA) -> str:
    return json.dumps(rca.model_dump(mode="json"), indent=2, ensure_ascii=False)


def to_yaml(rca: RCA) -> str:
    import yaml

    return yaml.safe_dump(rca.model_dump(mode="json"), sort_keys=False, allow_unicode=True, width=120)


def to_markdown(rca: RCA) -> str:
    a = rca.analysis
    lines = [f"## {rca.summary}", "",
             f"**Category:** `{rca.category}` · **Culprit:** `{rca.culprit}` · **Confidence:** {rca.confidence:.0%} · **Engine:** {a.engine}", "",
             "### Root cause", "", rca.root_cause, ""]
    if rca.evidence:
        lines += ["### Evidence", ""]
        for e in rca.evidence:
            lines += [f"- **{e.source}** `{e.resource}`", "", "  ```", *[f"  {x}" for x in e.excerpt.splitlines()], "  ```"]
        lines.append("")
    if rca.timeline:
        lines += ["### Timeline", "", "| time | resource | event |", "|---|---|---|"]
        lines += [f"| {t.time} | `{t.resource}` | {_cell(t.event)} |" for t in rca.timeline]
        lines.append("")
    if rca.fix:
        lines += ["### Fix", ""]
        for f in rca.fix:
            lines += [f"{f.explanation}:", "", "```sh", f.command, "```", ""]
    if rca.recommendations:
        lines += ["### Recommendations", "", *[f"- {r}" for r in rca.recommendations], ""]
    if a.gaps:
        lines += ["### Gaps", "", *[f"- {g}" for g in a.gaps], ""]
    return "\n".join(lines)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_text(rca: RCA, out: TextIO, color: bool | None = None) -> None:
    from rich.console import Console
    from rich.markup import escape
    from rich.panel import Panel
    from rich.table import Table

    console = Console(file=out, force_terminal=color, no_color=color is False, width=None if out.isatty() else 120,
                      highlight=False, soft_wrap=False)
    a = rca.analysis
    head = (f"[bold]{escape(rca.summary)}[/]\n\n"
            f"category [cyan]{rca.category}[/]   culprit [bold magenta]{escape(str(rca.culprit))}[/]   "
            f"confidence {rca.confidence:.0%}   engine {a.engine}")
    console.print(Panel(head, title="copilot RCA", expand=True))
    console.print("[bold]Root cause[/]")
    console.print(escape(rca.root_cause), "\n")
    if rca.evidence:
        console.print("[bold]Evidence[/]")
        for e in rca.evidence:
            console.print(f"  [dim]{e.source:<8}[/] {escape(e.resource)}")
            for line in e.excerpt.splitlines()[:12]:
                console.print(f"           [yellow]{escape(line)}[/]")
        console.print()
    if rca.timeline:
        table = Table("time (UTC)", "resource", "event", title="Timeline", title_justify="left", show_edge=False, box=None)
        for t in rca.timeline:
            table.add_row(t.time.replace("T", " ").rstrip("Z"), escape(t.resource), escape(t.event))
        console.print(table, "\n")
    if rca.fix:
        console.print("[bold]Fix[/]")
        for f in rca.fix:
            console.print(f"  # {escape(f.explanation)}")
            console.print(f"  [green]{escape(f.command)}[/]")
        console.print()
    if rca.recommendations:
        console.print("[bold]Recommendations[/]")
        for r in rca.recommendations:
            console.print(f"  - {escape(r)}")
        console.print()
    if a.gaps:
        console.print("[bold]Gaps[/] (what could not be read)")
        for g in a.gaps:
            console.print(f"  - {escape(g)}")
