"""One structured call through langchain + openai, negotiated, retried, bounded in time, then guarded.

Methods are tried in order json_schema -> function_calling -> json_mode; a method the endpoint refuses
(HTTP 400/404/422) is skipped and what worked is remembered per endpoint and model. Transient failures (429,
5xx, timeouts, connection errors) are retried here, with the SDK's own retries off. Invalid output gets one
repair prompt. Whatever happens, the caller gets an RCA: the rules' one when the LLM cannot be used.
"""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.bundle import Bundle
from copilot.categories import CATEGORIES
from copilot.llm.config import LLMConfig
from copilot.llm.context import build_context, untrusted_texts
from copilot.llm.guardrail import guard
from copilot.prompts import load_prompt
from copilot.rca import RCA, Evidence, EvidenceSource, Fix, ObjectRef
from copilot.redact import redact_text
from copilot.rules.findings import Finding

METHODS = ("json_schema", "function_calling", "json_mode")
MAX_ANSWER_TOKENS = 3000
Category = Literal[tuple(CATEGORIES)]  # type: ignore[valid-type]


class Culprit(BaseModel):
    kind: str
    namespace: str | None = Field(description="null for cluster-scoped objects such as a Node")
    name: str


class Quote(BaseModel):
    source: EvidenceSource
    resource: str = Field(description="Kind/namespace/name of the object it was read from")
    excerpt: str = Field(description="text quoted verbatim from the bundle (a long line may be cut)")


class Command(BaseModel):
    command: str
    explanation: str


class Answer(BaseModel):
    """The structured RCA the model writes; the timeline and analysis come from code. Every field is required
    (OpenAI's strict structured outputs demand it); lists are bounded (a grammar-constrained local model otherwise
    adds items until it runs out of tokens). Strings are not: llama.cpp cannot compile long maxLength grammars."""

    model_config = ConfigDict(extra="ignore")
    category: Category = Field(description="the root-cause category")
    summary: str = Field(description="one sentence: what crashes and why")
    root_cause: str = Field(description="the causal chain with times, a short paragraph")
    culprit: Culprit = Field(description="the object a person has to change")
    confidence: float = Field(description="0 to 1")
    evidence: list[Quote] = Field(max_length=5, description="lines quoted verbatim from the bundle")
    fix: list[Command] = Field(max_length=4, description="kubectl commands that fix it")
    recommendations: list[str] = Field(max_length=3)


class Invalid(Exception):
    """The model answered, but not with a usable RCA."""

    def __init__(self, message: str, raw: Any = None):
        super().__init__(message)
        self.raw = raw


class Deadline(Exception):
    """--llm-timeout ran out."""


@dataclass
class Outcome:
    rca: RCA
    status: str  # ok | rejected | timeout | error | invalid
    notes: list[str] = field(default_factory=list)


def _cache_path() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "copilot" / "llm-methods.json"


def remembered(config: LLMConfig) -> str | None:
    try:
        return json.loads(_cache_path().read_text()).get(f"{config.endpoint}|{config.model}")
    except (OSError, ValueError, AttributeError):
        return None


def remember(config: LLMConfig, method: str) -> None:
    path = _cache_path()
    try:
        data = json.loads(path.read_text()) if path.exists() else {}
        if not isinstance(data, dict):
            data = {}
        data[f"{config.endpoint}|{config.model}"] = method
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(data, indent=1, sort_keys=True))
        os.replace(tmp, path)
    except (OSError, ValueError):
        pass  # remembering is an optimisation; a read-only home must not fail the RCA


def chat_model(config: LLMConfig, timeout: float):
    if config.azure_endpoint:
        from langchain_openai import AzureChatOpenAI

        return AzureChatOpenAI(azure_endpoint=config.azure_endpoint, api_key=config.api_key, azure_deployment=config.model,
                               api_version=config.azure_api_version, temperature=0, timeout=timeout, max_retries=0,
                               max_tokens=MAX_ANSWER_TOKENS)
    from langchain_openai import ChatOpenAI

    # OpenAI-compatible servers (llama.cpp, older vLLM) ignore max_completion_tokens: send max_tokens as well
    extra = {"extra_body": {"max_tokens": MAX_ANSWER_TOKENS}} if config.base_url else {}
    return ChatOpenAI(model=config.model, api_key=config.api_key, base_url=config.base_url, temperature=0,
                      timeout=timeout, max_retries=0, max_tokens=MAX_ANSWER_TOKENS, **extra)


def _within(deadline: float, fn: Callable[[], Any]) -> Any:
    """Run fn in a daemon thread and give up at the deadline: a trickling server cannot hang the command."""
    box: queue.Queue = queue.Queue(maxsize=1)

    def run() -> None:
        try:
            box.put((True, fn()))
        except BaseException as e:  # noqa: BLE001 - handed to the caller's thread
            box.put((False, e))

    threading.Thread(target=run, daemon=True, name="copilot-llm").start()
    try:
        ok, value = box.get(timeout=max(0.0, deadline - time.monotonic()))
    except queue.Empty:
        raise Deadline() from None
    if ok:
        return value
    raise value


def _transient(e: BaseException) -> bool:
    import openai

    return not _unsupported(e) and isinstance(e, (openai.RateLimitError, openai.APITimeoutError, openai.APIConnectionError,
                                                   openai.InternalServerError))


def _unsupported(e: BaseException) -> bool:
    """The endpoint refuses the structured-output method (some servers say so with a 500, e.g. llama.cpp's)."""
    import openai

    if isinstance(e, (openai.BadRequestError, openai.NotFoundError, openai.UnprocessableEntityError)):
        return True
    text = str(getattr(e, "message", "")) + str(getattr(e, "body", ""))
    return isinstance(e, openai.InternalServerError) and any(w in text for w in ("response_format", "json_schema", "tool_choice", "tools"))


@dataclass
class Chain:
    config: LLMConfig
    calls: list[dict[str, Any]] = field(default_factory=list)  # per HTTP attempt: method, ms, tokens, error

    def _invoke(self, method: str, messages: list, deadline: float) -> Answer:
        """One structured call with retries on transient errors, all within the deadline."""
        from tenacity import retry, retry_if_exception, stop_after_attempt, stop_before_delay, wait_exponential_jitter

        remaining = deadline - time.monotonic()

        @retry(retry=retry_if_exception(_transient), stop=stop_after_attempt(3) | stop_before_delay(max(0.0, remaining - 1)),
               wait=wait_exponential_jitter(multiplier=0.5, max=4), reraise=True)
        def attempt() -> dict[str, Any]:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Deadline()
            # one fixed HTTP timeout: langchain-openai caches its HTTP clients per (base URL, timeout), so a timeout that
            # shrank per attempt built (and kept, connection open) a new client each time; the deadline is `_within`'s job
            model = chat_model(self.config, timeout=self.config.timeout_s).with_structured_output(Answer, method=method, include_raw=True)
            started = time.perf_counter()
            record: dict[str, Any] = {"method": method}
            self.calls.append(record)
            try:
                return _within(deadline, lambda: model.invoke(messages))
            except Exception as e:
                record["error"] = type(e).__name__
                raise
            finally:
                record["ms"] = round((time.perf_counter() - started) * 1000, 1)

        from langchain_core.exceptions import OutputParserException

        try:
            result = attempt()
        except (ValidationError, OutputParserException, ValueError) as e:  # the reply did not parse at all
            raise Invalid(_describe(e), _reply_text(e)) from e
        raw = result.get("raw")
        usage = getattr(raw, "usage_metadata", None) or {}
        self.calls[-1]["tokens"] = {k: int(usage.get(k, 0)) for k in ("input_tokens", "output_tokens", "total_tokens")}
        if result.get("parsed") is not None:
            return result["parsed"]
        error = result.get("parsing_error")
        raise Invalid(_describe(error) if error else "no structured answer in the reply", raw)

    def ask(self, system: str, user: str, repair_prompt, deadline: float) -> tuple[Answer, str]:
        from langchain_core.messages import AIMessage, HumanMessage, SystemMessage

        first = remembered(self.config)
        order = ([first] if first in METHODS else []) + [m for m in METHODS if m != first]
        messages = [SystemMessage(system), HumanMessage(user)]
        last_unsupported: Exception | None = None
        for method in order:
            msgs = messages
            if method == "json_mode":  # the API carries no schema in JSON mode: the prompt has to
                schema = json.dumps(Answer.model_json_schema(), separators=(",", ":"))
                msgs = [SystemMessage(system + f"\nReply with one JSON object that follows this JSON schema:\n{schema}\n"),
                        HumanMessage(user)]
            try:
                try:
                    answer = self._invoke(method, msgs, deadline)
                except Invalid as e:
                    said = e.raw if isinstance(e.raw, str) else (
                        getattr(e.raw, "content", "") or json.dumps(getattr(e.raw, "tool_calls", None) or [], default=str))
                    repair = repair_prompt.render(error=str(e)[:500])
                    answer = self._invoke(method, msgs + [AIMessage(str(said)[:4000]), HumanMessage(repair)], deadline)
            except Exception as e:
                if _unsupported(e):
                    last_unsupported = e
                    continue
                raise
            remember(self.config, method)
            return answer, method
        raise last_unsupported or Invalid("no structured-output method works with this endpoint")


def _reply_text(error: BaseException) -> str | None:
    """What the model said, as far as the parser's error kept it."""
    if isinstance(error, ValidationError):
        value = (error.errors() or [{}])[0].get("input")
        return value if isinstance(value, str) else None
    return getattr(error, "llm_output", None)


def _describe(error: BaseException) -> str:
    if isinstance(error, ValidationError):
        first = error.errors()[0]
        return f"{'.'.join(str(x) for x in first['loc'])}: {first['msg']}"
    return f"{type(error).__name__}: {str(error)[:300]}"


def _answer_rca(answer: Answer, rules: RCA) -> RCA:
    return RCA(category=answer.category, summary=answer.summary, root_cause=answer.root_cause,
               culprit=ObjectRef(**answer.culprit.model_dump()), confidence=min(1.0, max(0.0, answer.confidence)),
               evidence=[Evidence(**q.model_dump()) for q in answer.evidence], timeline=list(rules.timeline),
               fix=[Fix(**f.model_dump()) for f in answer.fix], recommendations=answer.recommendations)


def failure_status(e: BaseException) -> tuple[str, str]:
    import openai

    if isinstance(e, Deadline) or isinstance(e, openai.APITimeoutError):
        return "timeout", "the LLM did not answer in time"
    if isinstance(e, Invalid):
        return "invalid", f"the LLM's answer was not a valid RCA after one repair ({e})"
    if isinstance(e, openai.APIStatusError):
        detail = e.body.get("message") if isinstance(e.body, dict) else e.body
        body = " ".join(str(detail or "").split())[:160]
        return "error", f"the LLM endpoint answered HTTP {e.status_code}" + (f": {body}" if body else "")
    if isinstance(e, openai.APIConnectionError):
        return "error", "the LLM endpoint could not be reached"
    return "error", f"the LLM call failed ({type(e).__name__})"


def llm_rca(bundle: Bundle, findings: list[Finding], rules: RCA, config: LLMConfig) -> Outcome:
    """The guarded LLM RCA, or the rules' RCA with the reason the LLM's could not be used."""
    started = time.perf_counter()
    deadline = time.monotonic() + config.timeout_s
    system_p, user_p, repair_p = load_prompt("system"), load_prompt("user"), load_prompt("repair")
    context = build_context(bundle, findings)
    system = system_p.render(categories="\n".join(f"- {k}: {v}" for k, v in CATEGORIES.items()))
    user = redact_text(user_p.render(context=context.text))
    chain = Chain(config)
    rca = rules.model_copy(deep=True)
    notes: list[str] = []
    method = None
    try:
        answer, method = chain.ask(system, user, repair_p, deadline)
    except Exception as e:  # noqa: BLE001 - any LLM failure degrades to the rules' RCA
        status, why = failure_status(e)
        notes.append(f"{why}; showing the rules' RCA")
    else:
        untrusted = " ".join(" ".join(x.split()).lower() for x in untrusted_texts(bundle))
        guarded = guard(_answer_rca(answer, rules), rules, findings, context, bundle.namespace, untrusted)
        rca, notes = guarded.rca, guarded.notes
        status = "rejected" if guarded.took_over else "ok"
    a = rca.analysis
    a.model = config.model
    a.prompt_version = f"{system_p.tag} {user_p.tag} {repair_p.tag}"
    a.llm_status = status
    a.guardrail = notes
    tokens = [c.get("tokens") or {} for c in chain.calls]
    a.tokens = {k: sum(t.get(k, 0) for t in tokens) for k in ("input_tokens", "output_tokens", "total_tokens")}
    a.tokens["total"] = a.tokens["total_tokens"]
    a.tokens["calls"] = len(chain.calls)
    a.cost_usd = config.cost_usd(a.tokens["input_tokens"], a.tokens["output_tokens"])
    model_ms = round(sum(c.get("ms", 0.0) for c in chain.calls), 1)
    a.timings = {**a.timings, "llm_ms": model_ms, "chain_ms": round((time.perf_counter() - started) * 1000, 1)}
    a.llm_method = method
    return Outcome(rca, status, notes)
