"""The closed set of root-cause categories (see the recorded incident format)."""

CATEGORIES: dict[str, str] = {
    "app_crash": "unhandled exception, panic or crash in the application's own code",
    "missing_dependency": "library/module/class missing in the image",
    "missing_env_var": "a required environment variable is not set",
    "invalid_config": "a config value or file is present but wrong",
    "missing_config_object": "a referenced ConfigMap/Secret or key does not exist",
    "oom_killed": "the container exceeded its memory limit",
    "probe_failure": "a liveness/startup probe kills the container",
    "dependency_unavailable": "a database or service it needs is down, refusing or not ready",
    "network_error": "DNS failures, a NetworkPolicy, a service-mesh sidecar not ready",
    "permission_denied": "file-system permissions, read-only root fs, runAsNonRoot, fsGroup",
    "file_not_found": "a file, directory or volume path the process needs is missing",
    "bad_command": "wrong command/entrypoint: not found, not executable, exec format error",
    "port_in_use": "the port it binds is already taken",
    "cpu_starvation": "too little CPU: throttling makes start-up or probes time out",
    "image_error": "wrong image or tag, ErrImagePull/ImagePullBackOff",
    "completed_exit_zero": "the process exits 0 but restartPolicy is Always",
    "node_issue": "the node is at fault: eviction, CPU instruction set, kernel",
    "unknown": "the evidence does not decide",
}

WORKLOAD_KINDS = ("Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob")
