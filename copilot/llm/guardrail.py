"""The guardrail: pure code that keeps the LLM's RCA honest against the bundle and the rules.

- Hard facts (a rule finding at HARD strength or above: OOMKilled, a missing key, exit 127 with "not found",
  an image pull failure, a dependency OOMKilled before the crash...) cannot be contradicted.
- Evidence must occur in the context the LLM was given; a culprit must be a collected object.
- Fix commands must be kubectl commands that read, or change one named object in a targeted way, in the
  incident's namespaces; nothing the logs asked for.
Every intervention is written down; when the guardrail takes over, the rules' RCA is shown.
"""

from __future__ import annotations

import re
import shlex
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from copilot.llm.context import Context, ref_key
from copilot.rca import RCA, Fix, ObjectRef, canonical_kind
from copilot.rules.findings import Finding

HARD = 0.9     # a finding this strong is a fact the LLM may not contradict
STRONG = 0.75  # a finding this strong wins a disagreement; below it the LLM's grounded answer is shown
MAX_EVIDENCE = 8

READ_VERBS = {"get", "describe", "logs", "top", "explain", "events", "api-resources", "version"}
CHANGE_VERBS = {"set", "patch", "rollout", "scale", "create", "edit", "label", "annotate"}
SET_WHAT = {"resources", "env", "image"}
ROLLOUT_READ = {"status", "history"}
ROLLOUT_CHANGE = {"undo", "restart"}
CREATE_WHAT = {"configmap", "cm", "secret"}
IDENTITY_FLAGS = ("--kubeconfig", "--context", "--cluster", "--server", "-s", "--token", "--as", "--as-group", "--user")
FLAGS_WITH_VALUE = {"-n", "--namespace", "-c", "--container", "-p", "--patch", "--type", "-o", "--output", "--replicas",
                    "--limits", "--requests", "--tail", "--since", "--to-revision", "-l", "--selector", "--field-selector",
                    "--image", "--from-literal", "--from-file", "--from-env-file", "--patch-file", "--subresource"}
_INJECTION = re.compile(r"(?:ignore|disregard|forget) (?:all |any |the )?(?:previous|prior|above|earlier) (?:instructions|prompts?|rules)"
                        r"|disregard (?:the|all) (?:rules|instructions)|you are now|system prompt|new instructions", re.I)
# A shell command in prose: piped into a shell or interpreter, decoded from base64, substituted, rm -rf.
_SHELL = re.compile(r"\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b|\|\s*(?:python|perl|ruby|node)\d*\b|\bbase64\s+(?:-d|--decode)\b"
                    r"|\$\(|\brm\s+-[a-z]*r[a-z]*f", re.I)
# Letters that look like Latin ones (Cyrillic, Greek): "іgnore аll prevіous" reads as the instruction it is.
_LOOKALIKES = str.maketrans("аеіоргсухѕјԁһɡαεικνορτυχАЕІОРСХВМНТ", "aeioprcyxsjdhgaeiknoptuxAEIOPCXBMHT")
COMMAND_WORDS = 24
_FLAG_ALIASES = {"--namespace": "-n", "--container": "-c", "--patch": "-p", "--selector": "-l", "--output": "-o"}
KUBECTL = re.compile(r"kubectl\s(?:(?!kubectl\s)[^\n`])*")  # a kubectl command in prose, up to the next one
_PROSE_AFTER_COMMAND = re.compile(r"\s(?:to|and|then|so|which|because|if|for)\s|\.(?:\s|$)|,\s")
DANGEROUS = ("is not allowed", "shell", "outside the incident", "identity", "more than one", "found in the logs")


def _norm(text: str) -> str:
    return " ".join(text.split()).lower()


def _plain(text: str) -> str:
    """Text as a reader sees it: no zero-width or other format characters, lookalike letters as Latin ones."""
    text = unicodedata.normalize("NFKC", text)
    return "".join(ch for ch in text if unicodedata.category(ch) != "Cf").translate(_LOOKALIKES)


def _tokens(command: str) -> list[str]:
    lexer = shlex.shlex(command, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    return list(lexer)


def _shape(words: list[str]) -> dict[str, int]:
    """A command as the multiset of what it says, whatever the order: flags apart from their values, kind/name split."""
    out: dict[str, int] = {}
    for word in words:
        word = _plain(word).lower().strip("'\"`")
        if word.startswith("-") and "=" in word:
            flag, _, value = word.partition("=")
            parts = [_FLAG_ALIASES.get(flag, flag), value]
        elif word.startswith("-"):
            parts = [_FLAG_ALIASES.get(word, word)]
        elif word.count("/") == 1 and not word.startswith(("/", ".")) and "=" not in word:
            kind, _, name = word.partition("/")
            parts = [canonical_kind(kind).lower(), name]
        else:
            parts = [canonical_kind(word).lower() if word in ("deploy", "sts", "ds", "cm", "svc", "po") else word]
        for part in parts:
            out[part] = out.get(part, 0) + 1
    return out


@lru_cache(maxsize=8)
def _planted(untrusted: str) -> tuple[list[dict[str, int]], str]:
    """What follows each "kubectl" in the logs and events, as shapes: up to the prose after it or COMMAND_WORDS words
    (the text arrives with its lines joined, so where a command ends is a guess); and the text without white space."""
    plain = _plain(untrusted).lower()
    words = (" ".join(plain[m.start():].split()[:COMMAND_WORDS]) for m in re.finditer(r"\bkubectl\s", plain))
    windows = [_shape(_PROSE_AFTER_COMMAND.split(text, 1)[0].split()) for text in words]
    return windows, re.sub(r"\s+", "", plain)


def _from_untrusted(tokens: list[str], positional: list[str], flags: dict[str, list[str]], untrusted: str) -> bool:
    """The command, reordered or respelled, is one the logs contain; or it writes a value they spell out
    (KEY=value for set env/image, a patch body)."""
    windows, squeezed = _planted(untrusted)
    shape = _shape(tokens)
    if any(all(window.get(word, 0) >= n for word, n in shape.items()) for window in windows):
        return True
    written = [a for a in positional[1:] if "=" in a] + flags.get("-p", []) + flags.get("--patch", [])
    return any(len(value) >= 8 and re.sub(r"\s+", "", _plain(value).lower()) in squeezed for value in written)


def carried(text: str, namespaces: set[str], untrusted: str, reads_only: bool = False) -> str | None:
    """What in prose must not reach the user as advice: an instruction planted in the data, a shell pipeline,
    or a kubectl command the guardrail refuses (with reads_only, any kubectl command that changes something)."""
    plain = _plain(text)
    if _INJECTION.search(plain):
        return "repeats an instruction planted in the data"
    if _SHELL.search(plain):
        return "contains a shell command"
    for match in KUBECTL.finditer(plain):
        command = command_in(match)
        why = check_command(command, namespaces, untrusted)
        if why:
            return f"contains `{_clip(command, 80)}`, which {why}"
        if reads_only and _tokens(command)[1:2] and not _reads(command):
            return f"contains `{_clip(command, 80)}`, which changes the cluster"
    return None


def _reads(command: str) -> bool:
    positional = [t for t in _tokens(command)[1:] if not t.startswith("-")]
    return bool(positional) and (positional[0] in READ_VERBS or positional[:2] == ["auth", "can-i"]
                                 or (positional[0] == "rollout" and positional[1:2] and positional[1] in ROLLOUT_READ))


def command_in(match: re.Match) -> str:
    """The command a KUBECTL match found, without the sentence around it."""
    return _PROSE_AFTER_COMMAND.split(match.group(0), 1)[0].strip(" \"'.,;:")


def check_command(command: str, namespaces: set[str], untrusted: str) -> str | None:
    """Why the command is not allowed, or None when it is."""
    if "$(" in command or "`" in command:
        return "uses shell substitution"
    try:
        tokens = _tokens(command)
    except ValueError as e:
        return f"cannot be parsed ({e})"
    if any(t and all(ch in "();<>|&" for ch in t) for t in tokens):
        return "uses the shell (pipe, redirection or command list)"
    if not tokens or tokens[0] != "kubectl":
        return "is not a kubectl command"
    if "kubectl" in tokens[1:]:
        return "chains another kubectl command"
    if any(t.split("=", 1)[0] in IDENTITY_FLAGS for t in tokens):
        return "changes the cluster or identity (--context, --kubeconfig, --as ...)"
    positional, flags, i = [], {}, 1
    passthrough = "--" in tokens
    while i < len(tokens):
        t = tokens[i]
        if t == "--":
            break
        if t.startswith("-"):
            name, _, value = t.partition("=")
            if not value and name in FLAGS_WITH_VALUE and i + 1 < len(tokens):
                value, i = tokens[i + 1], i + 1
            flags.setdefault(name, []).append(value)
        else:
            positional.append(t)
        i += 1
    if not positional:
        return "has no verb"
    verb, args = positional[0], positional[1:]
    ns = (flags.get("-n") or flags.get("--namespace") or [None])[-1]
    everywhere = "-A" in flags or "--all-namespaces" in flags
    if ns is not None and ns not in namespaces:
        return f"works in namespace {ns}, outside the incident ({', '.join(sorted(namespaces))})"
    change = verb in CHANGE_VERBS and not (verb == "rollout" and args[:1] and args[0] in ROLLOUT_READ)
    if verb not in READ_VERBS and not change and not (verb == "rollout" and args[:1] and args[0] in ROLLOUT_READ) \
            and not (verb == "auth" and args[:1] == ["can-i"]):
        return f"'kubectl {verb}' is not allowed (only reads and targeted changes)"
    if passthrough:
        return "passes a command to run"
    if untrusted and (_norm(command) in untrusted or _from_untrusted(tokens, positional, flags, untrusted)):
        return "repeats a command found in the logs or events"
    if not change:
        return None
    if everywhere or "--all" in flags or "-l" in flags or "--selector" in flags or "--field-selector" in flags:
        return "changes more than one named object"
    if ns is None:
        return "changes an object without naming its namespace (-n)"
    sub = args[0] if verb in ("set", "rollout", "create") and args else None
    objects = args[1:] if sub else args
    if verb == "set" and sub not in SET_WHAT:
        return f"'kubectl set {sub}' is not one of set resources, env, image"
    if verb == "rollout" and sub not in ROLLOUT_CHANGE:
        return f"'kubectl rollout {sub}' is not undo or restart"
    if verb == "create":
        if sub not in CREATE_WHAT:
            return f"'kubectl create {sub}' is not a ConfigMap or Secret"
        if sub == "secret":
            objects = objects[1:]  # generic|docker-registry|tls
        if any(k in flags for k in ("--from-file", "--from-env-file")):
            return "reads local files"
        for literal in flags.get("--from-literal", []):
            if not re.fullmatch(r"[^=]+=<[^<>]*>", literal):
                return "writes a value instead of a <placeholder>"
    if verb in ("label", "annotate") or sub in ("env", "image"):  # KEY=value (or KEY-) pairs follow the object
        objects = [a for a in objects if "=" not in a and not a.endswith("-")]
    if verb == "create":  # the kind is the sub-command: one bare name follows
        named = len(objects) == 1 and "/" not in objects[0]
    else:
        named = (len(objects) == 1 and objects[0].count("/") == 1) or (len(objects) == 2 and "/" not in objects[0])
    if not named:
        return "does not name exactly one object"
    return None


@dataclass
class Guarded:
    rca: RCA
    notes: list[str]
    took_over: bool


def _known(ref: ObjectRef, context: Context) -> bool:
    kind = canonical_kind(ref.kind)
    return any(k == kind and n == ref.name and (not ref.namespace or ns in ("", ref.namespace)) for k, ns, n in context.objects)


def _same(a: ObjectRef, b) -> bool:
    return canonical_kind(a.kind) == canonical_kind(b.kind) and a.name == b.name and (a.namespace or "") in ("", b.namespace or "")


def _clip(text: str, n: int = 90) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n - 1] + "…"


def guard(answer: RCA, rules: RCA, findings: list[Finding], context: Context, namespace: str,
          untrusted: str) -> Guarded:
    """The RCA to show: the LLM's where it holds up, the rules' where it does not. `untrusted` is the text of
    logs and event messages (normalised), the source of any command an attacker could plant."""
    notes: list[str] = []
    corpus = _norm(context.text)
    top = findings[0] if findings and findings[0].strength >= HARD else None
    reasons = []
    if top is not None and answer.category != top.category:
        reasons.append(f"category {answer.category} contradicts a hard fact ({top.rule}: {top.category})")
    if not _known(answer.culprit, context):
        reasons.append(f"culprit {answer.culprit} is not among the collected objects")
    elif top is not None and not _same(answer.culprit, ref_key_ref(top)):
        reasons.append(f"culprit {answer.culprit} contradicts a hard fact ({top.rule}: {top.culprit})")
    namespaces = {namespace} | ({answer.culprit.namespace} if answer.culprit.namespace and not reasons else set())
    evidence = []
    for e in answer.evidence:
        if not _norm(e.excerpt) or _norm(e.excerpt) not in corpus:
            notes.append(f"dropped evidence not in the bundle: \"{_clip(e.excerpt)}\"")
        elif why := carried(e.excerpt, namespaces, "", reads_only=True):
            notes.append(f"dropped evidence that {why}")
        else:
            evidence.append(e)
    fixes = []
    for f in answer.fix:
        why = check_command(f.command, namespaces, untrusted)
        if why:
            notes.append(f"dropped fix `{_clip(f.command, 120)}`: {why}")
        elif why := carried(f.explanation, namespaces, untrusted):
            notes.append(f"dropped fix `{_clip(f.command, 120)}`: its explanation {why}")
        else:
            fixes.append(f)
    prose = " ".join([answer.summary, answer.root_cause])
    for cmd in map(command_in, KUBECTL.finditer(_plain(prose))):
        why = check_command(cmd, namespaces, untrusted)
        if why and any(word in why for word in DANGEROUS):
            reasons.append(f"the explanation recommends `{_clip(cmd, 80)}`, which {why}")
    if _INJECTION.search(_plain(prose)):
        reasons.append("the explanation repeats an instruction planted in the data")
    if _SHELL.search(_plain(prose)):
        reasons.append("the explanation recommends a shell command")
    recommendations = [r for r in answer.recommendations if not carried(r, namespaces, untrusted)]
    notes += [f"dropped recommendation: \"{_clip(r)}\"" for r in answer.recommendations if r not in recommendations]
    agree = rules.category == answer.category and _same(answer.culprit, rules.culprit) and rules.category != "unknown"
    strong = findings[0] if findings and findings[0].strength >= STRONG else None
    if not agree and strong is not None and not reasons:
        reasons.append(f"its answer ({answer.category}, {answer.culprit}) disagrees with a strong rule finding "
                       f"({strong.rule}: {strong.category}, {strong.culprit}, strength {strong.strength:.2f})")
    if not evidence and not reasons:
        reasons.append("none of its evidence occurs in the bundle")
    if reasons:
        notes = [f"took over from the LLM: {r}" for r in reasons] + notes
        lowered = round(max(0.1, rules.confidence - 0.1), 2)
        notes.append(f"showing the rules' RCA; confidence lowered from {rules.confidence:.2f} to {lowered:.2f} because the LLM disagreed")
        return Guarded(rules.model_copy(update={"confidence": lowered}, deep=True), notes, True)

    if agree:
        seen = {_norm(e.excerpt) for e in evidence}
        merged = evidence + [e for e in rules.evidence if _norm(e.excerpt) not in seen]
        commands = {f.command for f in rules.fix}
        rca = rules.model_copy(update={
            "summary": answer.summary, "root_cause": answer.root_cause,
            "evidence": merged[:MAX_EVIDENCE], "fix": list(rules.fix) + [f for f in fixes if f.command not in commands],
            "recommendations": _unique(list(recommendations) + list(rules.recommendations)),
            "confidence": round(max(answer.confidence, rules.confidence), 2)}, deep=True)
        rca.analysis.engine = "llm+rules"
        return Guarded(rca, notes, False)
    if rules.category != "unknown":
        notes.append(f"the LLM's answer differs from the rules' weak one ({rules.category}, {rules.culprit}, "
                     f"{rules.confidence:.2f}); the LLM's grounded answer is shown")
    if not fixes:
        culprit = answer.culprit
        target = f"{culprit.kind.lower()}/{culprit.name}"
        ns = ["-n", culprit.namespace] if culprit.namespace else []
        fixes = [Fix(command=shlex.join(["kubectl", *ns, "describe", target]), explanation=f"inspect {target}")]
        notes.append("no allowed fix from the LLM: a read-only describe is shown")
    rca = rules.model_copy(update={
        "category": answer.category, "summary": answer.summary, "root_cause": answer.root_cause,
        "culprit": answer.culprit, "evidence": evidence[:MAX_EVIDENCE], "fix": fixes,
        "recommendations": list(recommendations),
        "confidence": round(min(answer.confidence, 0.85 if rules.category != "unknown" else 0.9), 2)}, deep=True)
    rca.analysis.engine = "llm"
    return Guarded(rca, notes, False)


def ref_key_ref(f: Finding) -> ObjectRef:
    k = ref_key(f.culprit)
    return ObjectRef(kind=k[0], namespace=k[1] or None, name=k[2])


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))

