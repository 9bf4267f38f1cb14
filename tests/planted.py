"""A planted-secrets corpus: a recorded incident whose objects, events and logs leak secrets in every
usual way, and the phrases a diagnosis needs that redaction must leave alone. All values are fake."""

from __future__ import annotations

import copy
import json
from typing import Any

NS = "shop"
POD = "checkout-6f7c9d-k2x4p"
POD_UID = "7b1e4c2a-9d3f-4e8b-a6c5-0f2d1e3c4b5a"
DB_HOST = "pg-primary.shop.svc.cluster.local"
REDIS_HOST = "redis-master.shop.svc.cluster.local"

_S = {
    # literal env values of the pod and its Deployment template
    "db_password": "Pg-Pr0d-7fK2qLx9",
    "stripe_key": "sk_live_51NzQ8bKc4Yv2Rt7Hn3Lp9Wx6Jd0Fs5Ag",
    "jwt_secret": "b6f1c9e2a47d4e0f9c3a8b5d2e7f1a04",
    "aws_key_id": "AKIAQ3EXAMPLE7KZ4P2N",
    "aws_secret": "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",
    "sentry_key": "3f9a1c7e5b2d4f6a8c0e1b3d5f7a9c2e",
    "redis_password": "r3d1s-Pa55-x9Qw",
    "openai_key": "sk-proj-Jq3Vb8Nw2Lr5Tx9Kc7Pm4Hd6Fz1Sa0Ge8Yu3Io5Qw7Er2Ty",
    "anthropic_key": "sk-ant-api03-Zr8Kq2Wv6Nx4Bt1Lm9Pc7Hd3Jf5Sa0Ge2Yu8Io4Qw6Er1Ty3Ui7Op5As9Df2Gh-AbCdEfAA",
    "github_token": "ghp_R8kLq2Vw6Nx4Bt1Mz9Pc7Hd3Jf5Sa0Ge2Yu8",
    "slack_bot": "xoxb-2048193847-5120394857123-Qw8Er2Ty6Ui4Op1As9Df3Gh7J",
    "slack_hook": "Xk9Qw2Er7Ty4Ui1Op8As3Df6",
    "maps_key": "AIzaSyD4x9Qw2Er7Ty4Ui1Op8As3Df6Gh5Jk0Lz",
    "azure_key": "q8Xk2Lw9Rt5Vb7Nm3Pc1Hd6Jf4Sa0Ge8Yu2Io5Qw7Er1Ty3Ui9Op4As6Df8Gh2Jk0Lz5Xc7Vb3Nm1+/Qw==",
    "npm_token": "npm_Qw8Er2Ty6Ui4Op1As9Df3Gh7Jk5Lz0Xc2Vb4",
    "gitlab_token": "glpat-Xk9Qw2Er7Ty4Ui1Op8Az",
    # ConfigMap data, read through envFrom and a mounted file
    "spring_db_password": "Ch3ck0ut!DbPass",
    "gateway_api_key": "gw_7c2e9a4f1b8d3e6a0c5f",
    "oauth_client_secret": "0a1B2c3D4e5F6g7H8i9J",
    "amqp_password": "Rabb1tMQ-s3cr3t",
    "smtp_password": "m4ilgun&Key;9f8e,7d6c",
    "npmrc_token": "npm_Lz0Xc2Vb4NQw8Er2Ty6Ui4Op1As9Df3Gh7Jk",
    "docker_auth": "Y2ktYm90OlJlZ2lzdHJ5LVB3LTg4",
    "gcp_key_body": "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7PlAnTeDkEy",
    "sentry_auth_token": "sntrys_Rk9Qw2Er7Ty4Ui1Op8As3Df6Gh5Jk0Lz",
    "session_secret": "9d8c7b6a5f4e3d2c1b0a9f8e7d6c5b4a",
    # container args and command
    "arg_db_password": "ArgPassw0rd-77",
    "arg_api_token": "tok_9Xq2Lw7Rt5Vb3Nm1",
    "arg_redis_password": "Argr3disPw-41",
    "shell_admin_password": "Adm1n-Sh3ll-Pw",
    # annotations
    "last_applied_key": "iak_5f2e8c1a9d7b3e6f4a2c",
    "vault_token": "hvs.CAESIJq3Vb8Nw2Lr5Tx9Kc7Pm4Hd6Fz1Sa0G",
    "deploy_password": "Depl0yPw-2026",
    "annotation_hook": "Bm4Nq7Wx2Kc9Lr5Tv8Hd3Jf",
    # event messages
    "probe_token": "pr0be-T0ken-x81",
    "registry_password": "Regi5try-Pw-55",
    "webhook_secret": "whsec_Mz9Pc7Hd3Jf5Sa0Ge2Yu8Io4Qw6Er1T",
    "event_jwt": "eyJhbGciOiJSUzI1NiIsImtpZCI6Ims4cyJ9.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6c2hvcDpjaGVja291dCJ9."
                 "Zr8Kq2Wv6Nx4Bt1Lm9Pc7Hd3Jf5Sa0Ge2Yu8Io4Qw6Er1Ty3Ui7Op5As9Df2Gh",
    # logs
    "bearer_jwt": "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJjaGVja291dCIsInNjb3BlIjoicGF5bWVudHMifQ."
                  "Qw8Er2Ty6Ui4Op1As9Df3Gh7Jk5Lz0Xc2Vb4NmP1",
    "basic_auth": "Y2hlY2tvdXQ6QmFzaWNQYXNzLTQ0",
    "x_api_key": "xak-4f1e9d2c7b3a8e6f",
    "cookie_session": "s%3Aj9Xq2Lw7Rt5Vb3Nm1.Zk8",
    "rsa_key_line1": "MIIEpAIBAAKCAQEA0Z3VS5JJcds3xfn/ygWyF8PbnGy0AHB7MhgHcTz6sE2I2yPB",
    "rsa_key_line2": "aFDrBz9vFqU4yFhBQ1Z0rlZ4q1MfxqJ8oL7Jd2Kq9Xz1Yv5Tm3Wn6Rb8Hc4Gd2E",
    "cert_body": "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ",
    "mysql_identified": "Mig-Ident1fy-99",
    "pg_alter_password": "N3w-R0le-Pw-12",
    "slack_user_token": "xoxp-2048193847-2048193848-5120394857124-9f8e7d6c5b4a3f2e1d0c9b8a7f6e5d4c",
    "github_pat": "github_pat_11ABCDEFG0Qw8Er2Ty6Ui4_Op1As9Df3Gh7Jk5Lz0Xc2Vb4NmP1Qw8Er2Ty6Ui4Op1As9Df3Gh7Jk5",
    "github_oauth": "gho_Ty6Ui4Op1As9Df3Gh7Jk5Lz0Xc2Vb4NmP1Qw",
    "stripe_restricted": "rk_live_51NzQ8bAa1Bb2Cc3Dd4Ee5Ff6Gg7Hh8",
    "aws_sts_key_id": "ASIAY7EXAMPLE2QW9RTZ",
    "aws_session_token": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ",
    "sas_sig": "sv7Xk2Lw9Rt5Vb7Nm3Pc1Hd6Jf4Sa0Ge8Yu2Io5Q%3D",
    "pgpassword": "PgEnv-Pw-3344",
    "mysql_pwd": "MyPwd-5566",
    "passphrase": "correct horse battery staple",
    "ec_key_body": "MHcCAQEEIBq3Vb8Nw2Lr5Tx9Kc7Pm4Hd6Fz1Sa0Ge8Yu3Io5Qw7oAoGCCqGSM49",
    "xml_password": "Xml-Pw-9911",
    "oauth_json_secret": "cs_8Yu3Io5Qw7Er2Ty6Ui4Op",
    "refresh_token": "1//0gJq3Vb8Nw2Lr5Tx9Kc7Pm4Hd6Fz1Sa0Ge8Yu3Io5Qw7Er2Ty",
    "amz_signature": "a3f1c9e2b47d4e0f9c3a8b5d2e7f1a04b6f1c9e2a47d4e0f9c3a8b5d2e7f1a0",
    "encryption_key": "ek-Hd6Fz1Sa0Ge8Yu3Io5Qw7Er2Ty6Ui4Op",
    "discord_hook": "Lr5Tx9Kc7Pm4Hd6Fz1Sa0Ge8Yu3Io5Qw7Er2Ty6Ui4Op1As9Df3Gh",
    "go_struct_password": "GoStr-Pw-2468",
    "python_repr_token": "py-tok-1357-Zx",
    "jdbc_password": "Jdbc-Pw-8642",
    "mongo_password": "M0ng0-Atlas-Pw",
    "escaped_json_secret": "esc-Secret-9753",
    "cli_password": "Cl1-Flag-Pw-7788",
}
SECRETS: list[str] = list(_S.values())

MEANINGFUL: list[str] = [
    'FATAL:  password authentication failed for user "checkout"',
    "Access denied for user 'root'@'10.0.0.3' (using password: YES)",
    "DB_PASSWORD", "STRIPE_SECRET_KEY", "AWS_SECRET_ACCESS_KEY", "JWT_SECRET", "secretKeyRef",
    "postgres://checkout:", f"@{DB_HOST}:5432/orders?sslmode=require", f"{REDIS_HOST}:6379",
    "(10.96.44.12), port 5432 failed", "exiting with status 1", "/etc/checkout/application.properties",
    "-----BEGIN RSA PRIVATE KEY-----", "-----END RSA PRIVATE KEY-----", "'Authorization': 'Bearer ",
    "psycopg.OperationalError", 'File "/app/checkout/db.py", line 42, in connect',
    f"Back-off restarting failed container checkout in pod {POD}_shop({POD_UID})",
    POD, POD_UID, "checkout-config", "checkout-db", "application.properties", "https://hooks.slack.com/services/",
    "https://api.stripe.com/v1/payment_intents", "IDENTIFIED BY '", "AccountName=shopassets;AccountKey=",
    "2026-11-21T09:14:02.188Z", "vault.hashicorp.com/agent-inject-token", "kubectl.kubernetes.io/last-applied-configuration",
    "Liveness probe failed", "context deadline exceeded", "401 Unauthorized", "registry.example.com/shop/checkout:3.2.0",
    "https://deploy:", "github.com/example/checkout-config.git", "failed to list *v1.Secret: secrets is forbidden",
    "failed to fetch oauth token: unexpected status from GET request to https://ci-bot:",
]


def _env(**values: str) -> list[dict[str, Any]]:
    return [{"name": name, "value": value} for name, value in values.items()]


_ENV = _env(
    DB_HOST=DB_HOST, DB_PORT="5432", DB_USER="checkout", DB_PASSWORD=_S["db_password"],
    STRIPE_SECRET_KEY=_S["stripe_key"], JWT_SECRET=_S["jwt_secret"], AWS_ACCESS_KEY_ID=_S["aws_key_id"],
    AWS_SECRET_ACCESS_KEY=_S["aws_secret"], SENTRY_DSN=f"https://{_S['sentry_key']}@o450123.ingest.sentry.io/5501234",
    REDIS_URL=f"redis://:{_S['redis_password']}@{REDIS_HOST}:6379/0", OPENAI_API_KEY=_S["openai_key"],
    ANTHROPIC_API_KEY=_S["anthropic_key"], GITHUB_TOKEN=_S["github_token"], SLACK_BOT_TOKEN=_S["slack_bot"],
    SLACK_WEBHOOK_URL=f"https://hooks.slack.com/services/T02H8KQ4Z/B05LM7N2P/{_S['slack_hook']}",
    GOOGLE_MAPS_API_KEY=_S["maps_key"], NPM_TOKEN=_S["npm_token"], GITLAB_TOKEN=_S["gitlab_token"],
    AZURE_STORAGE_CONNECTION_STRING="DefaultEndpointsProtocol=https;AccountName=shopassets;"
                                    f"AccountKey={_S['azure_key']};EndpointSuffix=core.windows.net",
) + [{"name": "DB_READONLY_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "checkout-db", "key": "password"}}}]

_CONTAINER = {
    "name": "checkout",
    "image": "registry.example.com/shop/checkout:3.2.0",
    "command": ["sh", "-c", f"exec /app/checkout --admin-password '{_S['shell_admin_password']}' \"$@\"", "--"],
    "args": [f"--db-password={_S['arg_db_password']}", "--api-token", _S["arg_api_token"],
             f"--redis-url=redis://default:{_S['arg_redis_password']}@{REDIS_HOST}:6379"],
    "env": _ENV,
    "envFrom": [{"configMapRef": {"name": "checkout-config"}}],
    "volumeMounts": [{"name": "config", "mountPath": "/etc/checkout"}, {"name": "tls", "mountPath": "/etc/checkout/tls"}],
    "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
}
_POD_SPEC = {
    "containers": [_CONTAINER],
    "volumes": [{"name": "config", "configMap": {"name": "checkout-config"}},
                {"name": "tls", "secret": {"secretName": "checkout-tls"}}],
}
_LABELS = {"app": "checkout", "pod-template-hash": "6f7c9d"}

_GCP_SA = json.dumps({
    "type": "service_account", "project_id": "shop-prod", "private_key_id": "4c1f7e2a9b3d",
    "private_key": f"-----BEGIN PRIVATE KEY-----\n{_S['gcp_key_body']}\n-----END PRIVATE KEY-----\n",
    "client_email": "checkout@shop-prod.iam.gserviceaccount.com",
})

_CONFIG = {
    "application.properties": (
        f"spring.datasource.url=jdbc:postgresql://{DB_HOST}:5432/orders\n"
        "spring.datasource.username=checkout\n"
        f"spring.datasource.password={_S['spring_db_password']}\n"
        f"gateway.apiKey={_S['gateway_api_key']}\n"
        f"oauth.client-secret={_S['oauth_client_secret']}\n"
        f"amqp.uri=amqp://checkout:{_S['amqp_password']}@rabbitmq.shop.svc.cluster.local:5672/\n"
        f"sentry.auth_token={_S['sentry_auth_token']}\n"),
    "config.json": json.dumps({"smtp": {"host": "smtp.mailgun.org", "user": "postmaster@mg.example.com",
                                        "password": _S["smtp_password"]}}),
    ".npmrc": f"//registry.npmjs.org/:_authToken={_S['npmrc_token']}\n",
    "docker-config.json": json.dumps({"auths": {"registry.example.com": {"auth": _S["docker_auth"]}}}),
    "gcp-sa.json": _GCP_SA,
    "SESSION_SECRET": _S["session_secret"],
    "LOG_LEVEL": "debug",
}

_LAST_APPLIED = json.dumps({
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "checkout", "namespace": NS},
    "spec": {"template": {"spec": {"containers": [{"name": "checkout", "env": [
        {"name": "DB_PASSWORD", "value": _S["db_password"]}, {"name": "INTERNAL_API_KEY", "value": _S["last_applied_key"]}]}]}}},
})

_PREVIOUS = f"""\
2026-11-21T09:14:02.118Z INFO  checkout 3.2.0 starting (profile=production, pid=1)
2026-11-21T09:14:02.120Z INFO  reading /etc/checkout/application.properties
2026-11-21T09:14:02.121Z DEBUG environment: DB_HOST={DB_HOST} DB_PORT=5432 DB_USER=checkout DB_PASSWORD={_S['db_password']} \
STRIPE_SECRET_KEY={_S['stripe_key']} JWT_SECRET={_S['jwt_secret']} AWS_ACCESS_KEY_ID={_S['aws_key_id']} \
AWS_SECRET_ACCESS_KEY={_S['aws_secret']} PGPASSWORD={_S['pgpassword']} MYSQL_PWD={_S['mysql_pwd']}
2026-11-21T09:14:02.125Z DEBUG config dump: {{'spring.datasource.password': '{_S['spring_db_password']}', \
'gateway.apiKey': '{_S['gateway_api_key']}', 'oauth.client-secret': '{_S['oauth_client_secret']}', \
'passphrase': '{_S['passphrase']}', 'session_secret': '{_S['session_secret']}', 'smtp': {{'password': '{_S['smtp_password']}'}}}}
2026-11-21T09:14:02.130Z INFO  sentry enabled dsn=https://{_S['sentry_key']}@o450123.ingest.sentry.io/5501234
2026-11-21T09:14:02.131Z INFO  cache redis://:{_S['redis_password']}@{REDIS_HOST}:6379/0
2026-11-21T09:14:02.140Z INFO  connecting to postgres://checkout:{_S['db_password']}@{DB_HOST}:5432/orders?sslmode=require
2026-11-21T09:14:02.188Z ERROR connection to server at "{DB_HOST}" (10.96.44.12), port 5432 failed: \
FATAL:  password authentication failed for user "checkout"
2026-11-21T09:14:02.190Z DEBUG payment client: POST https://api.stripe.com/v1/payment_intents \
headers={{'Authorization': 'Bearer {_S['stripe_key']}', 'Idempotency-Key': 'a6c2e1f0-5b3d-4c8e-9f7a-1d2e3f4a5b6c', \
'X-Api-Key': '{_S['x_api_key']}'}}
2026-11-21T09:14:02.195Z ERROR unhandled exception during startup
Traceback (most recent call last):
  File "/app/checkout/main.py", line 88, in <module>
    app = create_app(settings)
  File "/app/checkout/db.py", line 42, in connect
    return psycopg.connect(dsn, connect_timeout=5)
  File "/usr/local/lib/python3.12/site-packages/psycopg/connection.py", line 119, in connect
    raise last_ex.with_traceback(None)
psycopg.OperationalError: connection failed: connection to server at "10.96.44.12", port 5432 failed: \
FATAL:  password authentication failed for user "checkout"
  locals: dsn='postgres://checkout:{_S['db_password']}@{DB_HOST}:5432/orders' \
debug_http=b'POST /v1/charges HTTP/1.1\\r\\nHost: api.stripe.com\\r\\nAuthorization: Bearer {_S['bearer_jwt']}\\r\\n\
Proxy-Authorization: Basic {_S['basic_auth']}\\r\\nCookie: session={_S['cookie_session']}; theme=dark\\r\\n'
2026-11-21T09:14:02.201Z DEBUG loaded TLS client key from /etc/checkout/tls/tls.key:
-----BEGIN RSA PRIVATE KEY-----
{_S['rsa_key_line1']}
{_S['rsa_key_line2']}
-----END RSA PRIVATE KEY-----
2026-11-21T09:14:02.202Z DEBUG loaded TLS client certificate:
-----BEGIN CERTIFICATE-----
{_S['cert_body']}
-----END CERTIFICATE-----
2026-11-21T09:14:02.305Z FATAL startup failed, exiting with status 1
"""

_CURRENT = f"""\
2026-11-21T09:19:40.010Z INFO  checkout 3.2.0 starting (profile=production, pid=1)
2026-11-21T09:19:40.012Z WARN  secrets on the command line: /app/checkout --db-password={_S['arg_db_password']} \
--api-token {_S['arg_api_token']} --redis-url=redis://default:{_S['arg_redis_password']}@{REDIS_HOST}:6379 \
--password "{_S['cli_password']}"
2026-11-21T09:19:40.020Z INFO  config sync from https://{_S['github_token']}@github.com/example/checkout-config.git
2026-11-21T09:19:40.021Z INFO  catalog mirror https://oauth2:{_S['gitlab_token']}@gitlab.example.com/shop/catalog.git
2026-11-21T09:19:40.030Z DEBUG notifier {{"level":"debug","channel":"#shop-alerts",\
"webhook":"https://hooks.slack.com/services/T02H8KQ4Z/B05LM7N2P/{_S['slack_hook']}","token":"{_S['slack_user_token']}"}}
2026-11-21T09:19:40.031Z DEBUG llm client primary={_S['openai_key']} fallback={_S['anthropic_key']}
2026-11-21T09:19:40.040Z DEBUG aws profile [default] aws_access_key_id = {_S['aws_sts_key_id']} \
aws_secret_access_key = {_S['aws_secret']} aws_session_token = {_S['aws_session_token']}
2026-11-21T09:19:40.050Z DEBUG upload https://shopassets.blob.core.windows.net/receipts/r-1001.pdf\
?sv=2022-11-02&ss=b&srt=o&sp=rw&se=2026-12-01T00:00:00Z&sig={_S['sas_sig']}
2026-11-21T09:19:40.051Z DEBUG storage DefaultEndpointsProtocol=https;AccountName=shopassets;\
AccountKey={_S['azure_key']};EndpointSuffix=core.windows.net
2026-11-21T09:19:40.060Z DEBUG inventory migration: CREATE USER 'inventory'@'%' IDENTIFIED BY '{_S['mysql_identified']}';
2026-11-21T09:19:40.061Z DEBUG reporting migration: ALTER ROLE reporting WITH LOGIN PASSWORD '{_S['pg_alter_password']}';
2026-11-21T09:19:40.062Z ERROR inventory: Access denied for user 'root'@'10.0.0.3' (using password: YES)
2026-11-21T09:19:40.070Z DEBUG catalog mongodb+srv://catalog:{_S['mongo_password']}@catalog.x1y2z.mongodb.net/catalog?retryWrites=true
2026-11-21T09:19:40.071Z DEBUG reporting jdbc:postgresql://pg-replica.shop.svc.cluster.local:5432/orders\
?user=reporting&password={_S['jdbc_password']}&ssl=true
2026-11-21T09:19:40.072Z DEBUG settings &{{Host:{DB_HOST} Port:5432 User:checkout Password:{_S['go_struct_password']} SSLMode:require}}
2026-11-21T09:19:40.073Z DEBUG oauth {{'client_id': 'checkout-web', 'client_secret': '{_S['oauth_json_secret']}', \
'refresh_token': '{_S['refresh_token']}', 'token_type': 'Bearer'}}
2026-11-21T09:19:40.074Z DEBUG github app {_S['github_oauth']} fine-grained {_S['github_pat']}
2026-11-21T09:19:40.075Z DEBUG s3 GET https://receipts.s3.amazonaws.com/r-1001.pdf?X-Amz-Algorithm=AWS4-HMAC-SHA256\
&X-Amz-Credential={_S['aws_key_id']}%2F20261121%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature={_S['amz_signature']}
2026-11-21T09:19:40.076Z DEBUG kms encryption_key={_S['encryption_key']} key_id=alias/checkout
2026-11-21T09:19:40.077Z DEBUG legacy soap <Credentials><Username>checkout</Username>\
<Password>{_S['xml_password']}</Password></Credentials>
2026-11-21T09:19:40.078Z DEBUG event {{"msg":"{{\\"user\\":\\"checkout\\",\\"secret\\":\\"{_S['escaped_json_secret']}\\"}}"}}
2026-11-21T09:19:40.079Z DEBUG alerts https://discord.com/api/webhooks/1187654321098765432/{_S['discord_hook']}
2026-11-21T09:19:40.080Z DEBUG refunds key {_S['stripe_restricted']}
2026-11-21T09:19:40.081Z DEBUG Settings(token='{_S['python_repr_token']}', timeout=5)
2026-11-21T09:19:40.082Z DEBUG google credentials {_GCP_SA}
2026-11-21T09:19:40.083Z DEBUG mTLS key: "-----BEGIN EC PRIVATE KEY-----\\n{_S['ec_key_body']}\\n-----END EC PRIVATE KEY-----\\n"
2026-11-21T09:19:40.090Z WARN  W1121 09:19:40.090 reflector.go:535] failed to list *v1.Secret: secrets is forbidden: \
User "system:serviceaccount:shop:checkout" cannot list resource "secrets" in API group "" in the namespace "shop"
2026-11-21T09:19:40.188Z ERROR connection to server at "{DB_HOST}" (10.96.44.12), port 5432 failed: \
FATAL:  password authentication failed for user "checkout"
2026-11-21T09:19:40.305Z FATAL startup failed, exiting with status 1
"""


def _event(name: str, reason: str, message: str, type_: str = "Warning", count: int = 1, component: str = "kubelet") -> dict:
    return {"apiVersion": "v1", "kind": "Event", "metadata": {"name": f"{POD}.{name}", "namespace": NS},
            "involvedObject": {"kind": "Pod", "name": POD, "namespace": NS, "uid": POD_UID, "fieldPath": "spec.containers{checkout}"},
            "type": type_, "reason": reason, "message": message, "count": count,
            "firstTimestamp": "2026-11-21T09:10:02Z", "lastTimestamp": "2026-11-21T09:19:41Z", "source": {"component": component}}


def planted_incident() -> dict[str, Any]:
    """A crash-looping checkout pod (bad DB credentials) whose every surface leaks a SECRET."""
    deployment = {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "checkout", "namespace": NS, "uid": "d2c4e6f8-0001", "generation": 12, "labels": {"app": "checkout"},
                     "annotations": {"deployment.kubernetes.io/revision": "12", "kubectl.kubernetes.io/last-applied-configuration": _LAST_APPLIED}},
        "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "checkout"}},
                 "template": {"metadata": {"labels": {"app": "checkout"}}, "spec": _POD_SPEC}},
        "status": {"replicas": 1, "updatedReplicas": 1, "readyReplicas": 0, "unavailableReplicas": 1},
    }
    replicaset = {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": "checkout-6f7c9d", "namespace": NS, "uid": "d2c4e6f8-0002", "labels": _LABELS,
                     "annotations": {"deployment.kubernetes.io/revision": "12"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "Deployment", "name": "checkout", "uid": "d2c4e6f8-0001", "controller": True}]},
        "spec": {"replicas": 1}, "status": {"replicas": 1, "readyReplicas": 0},
    }
    pod = {
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": POD, "namespace": NS, "uid": POD_UID, "creationTimestamp": "2026-11-21T09:10:00Z", "labels": _LABELS,
                     "annotations": {"vault.hashicorp.com/agent-inject-token": _S["vault_token"],
                                     "ci.example.com/deploy-url": f"https://deploy:{_S['deploy_password']}@ci.example.com/hooks/checkout",
                                     "alerts.example.com/slack-webhook": f"https://hooks.slack.com/services/T02H8KQ4Z/B06AB1C2D/{_S['annotation_hook']}"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "checkout-6f7c9d", "uid": "d2c4e6f8-0002", "controller": True}]},
        "spec": {"nodeName": "node-a", "restartPolicy": "Always", **_POD_SPEC},
        "status": {
            "phase": "Running", "podIP": "10.244.3.7", "hostIP": "10.0.0.11", "startTime": "2026-11-21T09:10:00Z",
            "conditions": [{"type": "Ready", "status": "False", "lastTransitionTime": "2026-11-21T09:10:00Z"}],
            "containerStatuses": [{
                "name": "checkout", "ready": False, "restartCount": 6, "started": False, "image": _CONTAINER["image"],
                "state": {"waiting": {"reason": "CrashLoopBackOff",
                                      "message": f"back-off 5m0s restarting failed container=checkout pod={POD}_shop({POD_UID})"}},
                "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "startedAt": "2026-11-21T09:19:40Z",
                                             "finishedAt": "2026-11-21T09:19:41Z"}}}],
        },
    }
    config_map = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "checkout-config", "namespace": NS}, "data": _CONFIG}
    secrets = [{"apiVersion": "v1", "kind": "Secret", "type": type_, "metadata": {"name": name, "namespace": NS}, "data": dict.fromkeys(keys, "")}
               for name, type_, keys in [("checkout-db", "Opaque", ["password"]), ("checkout-tls", "kubernetes.io/tls", ["tls.crt", "tls.key"])]]
    events = [
        _event("started", "Started", "Started container checkout", type_="Normal", count=7),
        _event("backoff", "BackOff", f"Back-off restarting failed container checkout in pod {POD}_shop({POD_UID})", count=31),
        _event("unhealthy", "Unhealthy", f'Liveness probe failed: Get "http://10.244.3.7:8080/healthz?token={_S["probe_token"]}": '
               "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"),
        _event("failed", "Failed", 'Failed to pull image "registry.example.com/shop/checkout:3.2.0": failed to authorize: '
               f"failed to fetch oauth token: unexpected status from GET request to https://ci-bot:{_S['registry_password']}"
               "@registry.example.com/v2/token?scope=repository%3Ashop%2Fcheckout%3Apull: 401 Unauthorized"),
        _event("configcheck", "ConfigInvalid", f"STRIPE_WEBHOOK_SECRET={_S['webhook_secret']} does not match endpoint we_1NzQ8b",
               component="config-checker"),
        _event("admission", "FailedCreate", f'admission webhook "policy.example.com" denied the request: token {_S["event_jwt"]} is expired',
               component="replicaset-controller"),
    ]
    return copy.deepcopy({
        "apiVersion": "copilot/v1", "kind": "Incident",
        "metadata": {"name": "planted-secrets", "description": "checkout crash-loops on a wrong database password; "
                     "every surface leaks planted secrets", "source": "synthetic", "tags": ["redaction", "invalid-config"]},
        "spec": {
            "now": "2026-11-21T09:20:00Z",
            "target": {"namespace": NS, "pod": POD},
            "objects": [deployment, replicaset, pod, config_map, *secrets, *events],
            "logs": {f"{NS}/{POD}/checkout": {"previous": _PREVIOUS, "current": _CURRENT}},
        },
        "expected": {"category": "invalid_config", "culprit": {"kind": "Deployment", "namespace": NS, "name": "checkout"},
                     "mentions": ["password authentication failed"],
                     "fix": ["kubectl .*(set env|edit|patch) .*deployment[/ ]checkout"]},
    })
