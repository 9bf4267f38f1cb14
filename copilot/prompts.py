"""Prompt files: `prompts/NAME.md`, a YAML header (name, version, variables) and a body with {{variables}}.

Rendering fails on a variable the caller did not give and on one the file did not declare, so a prompt and
its caller cannot drift apart silently.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import yaml

from copilot.errors import CopilotError

_VAR = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


class PromptError(CopilotError):
    """A prompt file is missing or malformed, or rendered with the wrong variables."""


def prompts_dir() -> Path:
    """COPILOT_PROMPTS_DIR, else the `prompts/` folder beside the package (a source or editable install),
    else `<prefix>/share/copilot/prompts` where a wheel installs them."""
    configured = os.environ.get("COPILOT_PROMPTS_DIR")
    if configured:
        return Path(configured)
    beside = Path(__file__).resolve().parent.parent / "prompts"
    installed = Path(sys.prefix) / "share" / "copilot" / "prompts"
    return beside if beside.is_dir() or not installed.is_dir() else installed


@dataclass(frozen=True)
class Prompt:
    name: str
    version: str
    variables: tuple[str, ...]
    body: str

    def render(self, **values: str) -> str:
        missing = [v for v in self.variables if v not in values]
        extra = [v for v in values if v not in self.variables]
        if missing or extra:
            raise PromptError(f"prompt {self.name}: " + "; ".join(
                ([f"missing variable(s) {', '.join(missing)}"] if missing else [])
                + ([f"undeclared variable(s) {', '.join(extra)}"] if extra else [])))
        # one pass, so a value that itself contains {{...}} (a log line, say) is never expanded
        return _VAR.sub(lambda m: str(values[m.group(1)]), self.body)

    @property
    def tag(self) -> str:
        return f"{self.name}@{self.version}"


def load_prompt(name: str, folder: Path | None = None) -> Prompt:
    path = (folder or prompts_dir()) / f"{name}.md"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise PromptError(f"{path}: cannot read the prompt ({e.strerror or e})") from e
    match = re.match(r"^---\n(.*?)\n---\n(.*)$", text, re.S)
    if not match:
        raise PromptError(f"{path}: no '---' header with name, version and variables")
    try:
        header = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as e:
        raise PromptError(f"{path}: the header is not YAML ({e})") from e
    if not isinstance(header, dict) or header.get("name") != name or "version" not in header:
        raise PromptError(f"{path}: the header needs name: {name} and a version")
    variables = tuple(header.get("variables") or [])
    body = match.group(2).strip() + "\n"
    used = set(_VAR.findall(body))
    if used != set(variables):
        raise PromptError(f"{path}: declares {sorted(variables)} but uses {sorted(used)}")
    return Prompt(name, str(header["version"]), variables, body)
