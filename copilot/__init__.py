"""copilot: root cause of Kubernetes pods in CrashLoopBackOff."""

__version__ = "0.1.0"
