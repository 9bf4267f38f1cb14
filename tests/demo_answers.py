"""The demo incident's right diagnosis as a model gives it, shared by the LLM-path tests."""

OOM_LINE = "lastState.terminated: exitCode=137 signal=9 reason=OOMKilled finishedAt=2026-11-20T14:28:14Z"
REFUSED = ('2026-11-20T14:30:19.126Z ERROR could not connect to database: connection to server at '
           '"postgres.production.svc.cluster.local" (10.96.12.34), port 5432 failed: Connection refused')
RIGHT = {
    "category": "dependency_unavailable",
    "summary": "postgres-0 was OOMKilled and payment-service exits on connection refused while it recovers",
    "root_cause": "postgres-0 hit its 512Mi limit and was OOMKilled at 14:28:14; during WAL recovery payment connected, was refused and exited 1.",
    "culprit": {"kind": "StatefulSet", "namespace": "production", "name": "postgres"},
    "confidence": 0.9,
    "evidence": [{"source": "status", "resource": "Pod/production/postgres-0", "excerpt": OOM_LINE},
                 {"source": "logs", "resource": "Pod/production/payment-service-7d9f8b-xyz", "excerpt": REFUSED}],
    "fix": [{"command": "kubectl -n production set resources statefulset/postgres -c postgres --limits=memory=1Gi",
             "explanation": "more memory for postgres"}],
    "recommendations": ["Add connection retries with backoff to payment-service."],
}
