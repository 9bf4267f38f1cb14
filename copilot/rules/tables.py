"""Tables the rules are driven by: exit codes and container reasons."""

from __future__ import annotations

from typing import NamedTuple


class Verdict(NamedTuple):
    category: str
    strength: float
    meaning: str


# Exit code -> what it usually means when the logs do not say more.
EXIT_CODES: dict[int, Verdict] = {
    0: Verdict("completed_exit_zero", 0.7, "the process exited 0 (success)"),
    1: Verdict("app_crash", 0.3, "general application error"),
    2: Verdict("app_crash", 0.3, "misuse of a shell builtin or invalid arguments"),
    126: Verdict("bad_command", 0.8, "the command was found but cannot be executed (permissions or not a binary)"),
    127: Verdict("bad_command", 0.85, "the command was not found in the image"),
    128: Verdict("app_crash", 0.25, "invalid exit argument"),
    132: Verdict("node_issue", 0.6, "SIGILL: illegal instruction (CPU lacks an instruction set the binary needs)"),
    134: Verdict("app_crash", 0.5, "SIGABRT: the process aborted itself"),
    135: Verdict("app_crash", 0.45, "SIGBUS: bus error"),
    136: Verdict("app_crash", 0.45, "SIGFPE: arithmetic exception"),
    137: Verdict("unknown", 0.3, "SIGKILL: killed from outside (OOM killer, liveness probe or eviction)"),
    139: Verdict("app_crash", 0.6, "SIGSEGV: segmentation fault"),
    141: Verdict("app_crash", 0.3, "SIGPIPE: wrote to a closed pipe"),
    143: Verdict("unknown", 0.3, "SIGTERM: asked to stop (probe failure, rollout or eviction)"),
    255: Verdict("app_crash", 0.3, "exit status out of range or a fatal runtime error"),
}

# Waiting/terminated reason -> verdict before reading its message.
REASONS: dict[str, Verdict] = {
    "OOMKilled": Verdict("oom_killed", 0.95, "the container exceeded its memory limit and the kernel killed it"),
    "CreateContainerConfigError": Verdict("missing_config_object", 0.85, "the kubelet could not build the container's configuration"),
    "CreateContainerError": Verdict("bad_command", 0.5, "the runtime could not create the container"),
    "RunContainerError": Verdict("bad_command", 0.6, "the runtime could not start the container process"),
    "StartError": Verdict("bad_command", 0.6, "the runtime could not start the container process"),
    "ContainerCannotRun": Verdict("bad_command", 0.6, "the runtime could not start the container process"),
    "ErrImagePull": Verdict("image_error", 0.95, "the image could not be pulled"),
    "ImagePullBackOff": Verdict("image_error", 0.95, "the image could not be pulled; the kubelet is backing off"),
    "InvalidImageName": Verdict("image_error", 0.95, "the image reference is invalid"),
    "ErrImageNeverPull": Verdict("image_error", 0.9, "imagePullPolicy is Never and the image is not on the node"),
    "Completed": Verdict("completed_exit_zero", 0.75, "the process finished successfully"),
    "Evicted": Verdict("node_issue", 0.85, "the kubelet evicted the pod under node pressure"),
    "DeadlineExceeded": Verdict("unknown", 0.3, "the pod ran past activeDeadlineSeconds"),
}

# Messages of runtime start failures -> (category, strength, meaning). First match wins.
START_FAILURES: list[tuple[str, Verdict]] = [
    (r"exec format error", Verdict("bad_command", 0.92, "the binary is built for another CPU architecture")),
    (r"executable file not found|no such file or directory.*(?:exec|entrypoint)|exec: \"[^\"]+\": stat", Verdict("bad_command", 0.92, "the command does not exist in the image")),
    (r"permission denied", Verdict("bad_command", 0.85, "the command is not executable")),
    (r"read-only file system", Verdict("permission_denied", 0.85, "the process writes to a read-only file system")),
    (r"no such file or directory|not a directory", Verdict("file_not_found", 0.8, "a path the container needs is missing")),
    (r"(?:secret|configmap) \"[^\"]+\" not found|couldn't find key", Verdict("missing_config_object", 0.95, "a referenced ConfigMap/Secret or key does not exist")),
    (r"runAsNonRoot|non-root|run as root", Verdict("permission_denied", 0.9, "the image runs as root but the pod requires runAsNonRoot")),
    (r"no command specified", Verdict("bad_command", 0.9, "the image has no entrypoint and the pod gives no command")),
]

# Memory-related signals, in logs, that mean the container died of memory even without OOMKilled.
PROBE_KILL_MESSAGES = ("failed liveness probe", "failed startup probe", "will be restarted")
