"""Command line: options and calls only. Heavy imports happen inside commands."""

from __future__ import annotations

import os
import sys

import click

from copilot import __version__


def _fail(message: str, code: int = 1) -> None:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class _Group(click.Group):
    """Turns every error into one line and an exit code; COPILOT_DEBUG=1 shows tracebacks."""

    def invoke(self, ctx: click.Context):
        from copilot.errors import CopilotError

        try:
            return super().invoke(ctx)
        except CopilotError as e:
            _fail(str(e), e.exit_code)
        except KeyboardInterrupt:
            _fail("interrupted", 130)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort, SystemExit):
            raise
        except Exception as e:  # noqa: BLE001 - the last line of defence against tracebacks
            if os.environ.get("COPILOT_DEBUG"):
                raise
            _fail(f"internal error: {type(e).__name__}: {e} (set COPILOT_DEBUG=1 for a traceback)", 70)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="copilot")
def main() -> None:
    """Root cause of Kubernetes pods in CrashLoopBackOff."""


def _options(*options):
    """One decorator applying several click options in the order written."""
    def apply(command):
        for option in reversed(options):
            command = option(command)
        return command
    return apply


_CLUSTER = (click.option("--context", help="kubeconfig context to use."),
            click.option("--kubeconfig", type=click.Path(dir_okay=False), help="Path to a kubeconfig file."))
_INCIDENT = click.option("--incident", type=click.Path(), help="Use a recorded incident file instead of a live cluster.")
_MIN_RESTARTS = click.option("--min-restarts", type=click.IntRange(0, 1000), default=1, show_default=True,
                             help="Restarts before a crash-looping or abnormally terminated container counts as failing.")

# which pod: in a live cluster, or in a recorded incident file
_pod_or_incident = _options(
    click.argument("pod", required=False),
    click.option("-n", "--namespace", help="Namespace of the pod (default: the kubeconfig's, or the incident's)."),
    *_CLUSTER, _INCIDENT)

# which pods: a namespace or all of them, in a live cluster or a recorded incident
_scope = _options(
    click.option("-n", "--namespace", help="One namespace (default: the kubeconfig's; every namespace of --incident)."),
    click.option("-A", "--all-namespaces", is_flag=True, help="Every namespace."),
    *_CLUSTER, _INCIDENT)


@main.command()
@_pod_or_incident
@click.option("-o", "--output", type=click.Choice(["text", "json", "yaml", "markdown"]), default="text", show_default=True)
@click.option("--no-llm", is_flag=True, help="Rules only: never call an LLM.")
@click.option("--model", help="LLM model or Azure deployment (default: COPILOT_MODEL, else gpt-4o-mini).")
@click.option("--llm-timeout", type=click.FloatRange(1, 3600), help="Seconds the LLM may take in all, retries included (default 60).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL",
              help="Prometheus base URL for memory and CPU series (default: the incident's recorded series, or a prometheus Service in the cluster).")
def rca(pod, namespace, context, kubeconfig, incident, output, no_llm, model, llm_timeout, prometheus_url):
    """Diagnose a crash-looping POD and print the root cause and fix."""
    from copilot import app, render

    progress = None
    if incident:
        source, target = app.incident_source(incident)
        if pod:
            target.pod = pod
        if namespace:
            target.namespace = namespace
        metrics, metrics_gap = app.incident_metrics(source, prometheus_url)
    else:
        if not pod:
            _fail("give a POD name, or --incident FILE to diagnose a recorded incident", 2)
        source = app.cluster_source(context, kubeconfig)
        target = app.Target(namespace or getattr(source, "default_namespace", None) or "default", pod)
        progress = _progress
        metrics, metrics_gap = app.cluster_metrics(source, prometheus_url)
    llm = None if no_llm else app.llm_config(model, llm_timeout)
    note = app.llm_note(llm, no_llm)
    if note:
        click.echo(note, err=True)
    result = app.run_rca(source, target, progress, llm=llm, no_llm=no_llm, metrics=metrics, metrics_gap=metrics_gap)
    if result.analysis.llm_status in ("timeout", "error", "invalid", "rejected"):
        click.echo(f"note: LLM {result.analysis.llm_status}: {result.analysis.guardrail[0] if result.analysis.guardrail else ''}", err=True)
    if output == "json":
        click.echo(render.to_json(result))
    elif output == "yaml":
        click.echo(render.to_yaml(result), nl=False)
    elif output == "markdown":
        click.echo(render.to_markdown(result))
    else:
        render.to_text(result, sys.stdout)


def _progress(message: str) -> None:
    if sys.stderr.isatty() or os.environ.get("COPILOT_PROGRESS"):
        click.echo(f"… {message}", err=True)


@main.command()
@click.argument("pod")
@click.option("-n", "--namespace", help="Namespace of the pod (default: the kubeconfig's).")
@_options(*_CLUSTER)
@click.option("-o", "--output", "output", required=True, type=click.Path(dir_okay=False), help="Incident file to write (YAML).")
@click.option("--force", is_flag=True, help="Overwrite the file if it exists.")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", help="Prometheus base URL: record the memory series too.")
def record(pod, namespace, context, kubeconfig, output, force, prometheus_url):
    """Record a crash-looping POD from a live cluster as an incident file (Secret values are never read)."""
    from copilot import app
    from copilot.incident import parse_incident
    from copilot.record import incident_dict, to_yaml, write_atomically

    source = app.cluster_source(context, kubeconfig)
    namespace = namespace or getattr(source, "default_namespace", None) or "default"
    metrics, metrics_gap = app.cluster_metrics(source, prometheus_url)
    data = incident_dict(source, namespace, pod, _progress, metrics)
    parse_incident(data, output)
    write_atomically(output, to_yaml(data), force)
    spec = data["spec"]
    click.echo(f"recorded {namespace}/{pod}: {len(spec['objects'])} objects, {len(spec['logs'])} logs, "
               f"{len(spec.get('series') or [])} series -> {output}", err=True)
    if metrics_gap:
        click.echo(f"note: {metrics_gap}", err=True)


@main.command("eval")
@click.argument("paths", nargs=-1, required=True)
@click.option("--no-llm", is_flag=True, help="Rules only: never call an LLM.")
@click.option("--model", help="LLM model for LLM runs (default: COPILOT_MODEL, else gpt-4o-mini).")
@click.option("--llm-timeout", type=click.FloatRange(1, 3600), help="Seconds the LLM may take per case (default 60).")
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--baseline", type=click.Path(dir_okay=False), help="A previous `-o json` report: show what regressed and improved.")
@click.option("--min-pass-rate", type=click.FloatRange(0, 1), help="Exit 1 when the pass rate is below this (a CI gate).")
@click.option("--repeat", type=click.IntRange(1, 100), default=1, show_default=True, help="Diagnose each case N times (pass@1, pass^N).")
@click.option("--jobs", type=click.IntRange(1, 64), default=1, show_default=True, help="Cases diagnosed concurrently.")
@click.option("--filter", "tag", help="Only incidents with this tag in metadata.tags.")
def eval_(paths, no_llm, model, llm_timeout, output, baseline, min_pass_rate, repeat, jobs, tag):
    """Diagnose recorded incidents (files, folders, suites) and score them against their `expected` verdicts."""
    import json

    from copilot import app, evaluate

    cases, skipped = evaluate.find_cases(list(paths), tag)
    if not cases:
        _fail(f"no incidents with an expected verdict in {' '.join(paths)}" + (f" tagged {tag!r}" if tag else ""), 2)
    llm = None if no_llm else app.llm_config(model, llm_timeout)
    note = app.llm_note(llm, no_llm)
    if note:
        click.echo(note, err=True)
    previous = evaluate.load_baseline(baseline) if baseline else None
    results = evaluate.run_cases(cases, evaluate.diagnoser(llm, no_llm), repeat=repeat, jobs=jobs, progress=sys.stderr.isatty())
    report = evaluate.report_json(results, skipped, repeat)
    comparison = evaluate.compare(report, previous) if previous else None
    if comparison:
        report["baseline"] = comparison
    if output == "json":
        click.echo(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        evaluate.render_text(report, comparison, sys.stdout)
    invalid = [r for r in results if r.error]
    if invalid:
        for r in invalid:
            click.echo(f"error: {r.error}", err=True)
        sys.exit(2)
    if min_pass_rate is not None and report["summary"]["pass_rate"] < min_pass_rate:
        click.echo(f"error: pass rate {report['summary']['pass_rate']:.2%} is below --min-pass-rate {min_pass_rate:.2%}", err=True)
        sys.exit(1)


@main.command()
@click.argument("file", type=click.Path())
@click.option("--port", type=click.IntRange(0, 65535), default=0, help="Port on 127.0.0.1 (default: a free one).")
@click.option("--kubeconfig", type=click.Path(dir_okay=False), default="copilot-replay.kubeconfig", show_default=True,
              help="Where to write the kubeconfig pointing at the replay.")
@click.option("--play", "play_after", type=click.FloatRange(0, 86400), metavar="SECONDS",
              help="Start before the incident (failing containers running, no events) and play it after SECONDS, for watches.")
def replay(file, port, kubeconfig, play_after):
    """Serve a recorded incident as a read-only Kubernetes API on 127.0.0.1."""
    from copilot.replay import run_replay

    run_replay(file, port, kubeconfig, play_after=play_after)


@main.command()
@_scope
@click.option("-o", "--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_MIN_RESTARTS
def scan(namespace, all_namespaces, context, kubeconfig, incident, output, min_restarts):
    """List every failing pod with its one-line diagnosis from the rules (one list request per kind)."""
    from copilot import app
    from copilot import scan as scan_

    source, scope = app.scoped_source(namespace, all_namespaces, context, kubeconfig, incident)
    rows, gaps = scan_.scan(source, scope, min_restarts)
    scan_.render(rows, gaps, output, sys.stdout, f"namespace {scope}" if scope else "all namespaces")


@main.command()
@_scope
@click.option("--slack-webhook", envvar="COPILOT_SLACK_WEBHOOK", metavar="URL", help="Slack incoming webhook for notifications.")
@click.option("--webhook", envvar="COPILOT_WEBHOOK_URL", metavar="URL", help="Generic webhook: each notification POSTed as JSON.")
@click.option("--once", is_flag=True, help="Handle what is failing now, then exit (for cron and tests).")
@click.option("--state", "state_path", envvar="COPILOT_WATCH_STATE", type=click.Path(dir_okay=False),
              help="JSON file remembering what was notified, so a restart does not notify again.")
@_MIN_RESTARTS
@click.option("--cooldown", default="4h", show_default=True, help="Minimum time between messages about one incident and cause.")
@click.option("--resolve-after", default="10m", show_default=True, help="Healthy this long before an incident is resolved.")
@click.option("--no-llm", is_flag=True, help="Rules only: never call an LLM.")
@click.option("--model", help="LLM model or Azure deployment (default: COPILOT_MODEL, else gpt-4o-mini).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", help="Prometheus base URL for memory and CPU series.")
@click.option("--health-port", type=click.IntRange(1, 65535), help="Serve /healthz and /readyz on this port (in a pod).")
@click.option("--jobs", type=click.IntRange(1, 16), default=2, show_default=True, help="Diagnoses run concurrently.")
def watch(namespace, all_namespaces, context, kubeconfig, incident, slack_webhook, webhook, once, state_path, min_restarts,
          cooldown, resolve_after, no_llm, model, prometheus_url, health_port, jobs):
    """Watch pods; diagnose each workload that starts crash-looping and notify once per incident (JSON lines on stdout)."""
    from copilot.watch import WatchConfig, start

    config = WatchConfig(namespace, all_namespaces, context, kubeconfig, incident, slack_webhook, webhook, once, state_path,
                         min_restarts, cooldown, resolve_after, no_llm, model, prometheus_url, health_port, jobs)
    sys.exit(start(config, sys.stdout, sys.stderr))


@main.command()
@_pod_or_incident
@click.option("--no-llm", is_flag=True, help="Answer from the bundle by keywords: never call an LLM.")
@click.option("--model", help="LLM model or Azure deployment (default: COPILOT_MODEL, else gpt-4o-mini).")
@click.option("--prometheus-url", envvar="PROMETHEUS_URL", help="Prometheus base URL for memory and CPU series.")
def chat(pod, namespace, context, kubeconfig, incident, no_llm, model, prometheus_url):
    """Ask questions about a crash-looping POD (without one, pick from the pods in CrashLoopBackOff)."""
    from copilot import app
    from copilot import chat as chat_

    session = chat_.open_session(pod, namespace, context, kubeconfig, incident, no_llm, model, prometheus_url,
                                 None if incident else _progress)
    note = app.llm_note(session.llm, no_llm)
    if note:
        click.echo(note, err=True)
    sys.exit(chat_.run(session))
