"""The log-signature table: real-looking lines -> the decisive signature's category and captured values."""

import random
import re
import string
import time

import pytest

from copilot.categories import CATEGORIES
from copilot.rules.signatures import (
    GROUPS,
    RETRY_TWINS,
    SIGNATURES,
    check_table,
    line_severity,
    match_line,
    needles,
    per_category,
    placeholders,
    scan,
)

# (log line, category of the strongest hit, groups it must capture)
LINES = [
    # Python
    ("ModuleNotFoundError: No module named 'requests'", "missing_dependency", {"module": "requests"}),
    ("ModuleNotFoundError: No module named 'app.settings_prod'", "missing_dependency", {"module": "app.settings_prod"}),
    ("ImportError: No module named yaml", "missing_dependency", {"module": "yaml"}),
    ("ImportError: cannot import name 'soft_unicode' from 'markupsafe' (/usr/local/lib/python3.11/site-packages/markupsafe/__init__.py)",
     "missing_dependency", {"module": "markupsafe", "class": "soft_unicode"}),
    ("ImportError: libpq.so.5: cannot open shared object file: No such file or directory", "missing_dependency", {"module": "libpq.so.5"}),
    ("KeyError: 'DATABASE_URL'", "missing_env_var", {"var": "DATABASE_URL"}),
    ('KeyError: "SESSION_SECRET"', "missing_env_var", {"var": "SESSION_SECRET"}),
    ("KeyError: 'user_id'", "app_crash", {"exception": "KeyError"}),
    ("django.core.exceptions.ImproperlyConfigured: Set the DJANGO_SECRET_KEY environment variable", "missing_env_var", {"var": "DJANGO_SECRET_KEY"}),
    ("yaml.scanner.ScannerError: mapping values are not allowed here", "invalid_config", {}),
    ('  in "/etc/app/config.yaml", line 3, column 9', "invalid_config", {"path": "/etc/app/config.yaml"}),
    ("json.decoder.JSONDecodeError: Expecting value: line 1 column 1 (char 0)", "invalid_config", {}),
    ("FileNotFoundError: [Errno 2] No such file or directory: '/etc/app/settings.toml'", "file_not_found", {"path": "/etc/app/settings.toml"}),
    ("PermissionError: [Errno 13] Permission denied: '/var/log/app/app.log'", "permission_denied", {"path": "/var/log/app/app.log"}),
    ("OSError: [Errno 30] Read-only file system: '/app/.cache'", "permission_denied", {"path": "/app/.cache"}),
    ("ERROR:    [Errno 98] error while attempting to bind on address ('0.0.0.0', 8000): address already in use", "port_in_use", {"port": "8000"}),
    ("ConnectionRefusedError: [Errno 111] Connection refused", "dependency_unavailable", {}),
    ("requests.exceptions.ConnectionError: HTTPConnectionPool(host='billing', port=8080): Max retries exceeded with url: /health (Caused by NewConnectionError('<urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused'))",
     "dependency_unavailable", {"host": "billing", "port": "8080"}),
    ("requests.exceptions.ConnectionError: HTTPSConnectionPool(host='api.example.internal', port=443): Max retries exceeded with url: / (Caused by NameResolutionError(\"Failed to resolve 'api.example.internal' ([Errno -2] Name or service not known)\"))",
     "network_error", {"host": "api.example.internal", "port": "443"}),
    ("[2026-03-02 10:28:04 +0000] [1] [ERROR] Worker (pid:8) was sent SIGKILL! Perhaps out of memory?", "oom_killed", {}),
    ("Failed to find attribute 'application' in 'app'.", "bad_command", {"class": "application", "module": "app"}),
    ('ERROR:    Error loading ASGI app. Could not import module "main".', "bad_command", {"module": "main"}),
    ("MemoryError", "oom_killed", {}),
    ("RecursionError: maximum recursion depth exceeded while calling a Python object", "app_crash", {}),
    ("ValueError: invalid literal for int() with base 10: 'eighty'", "app_crash", {"exception": "ValueError"}),
    ("[2026-03-02 10:00:01,001: ERROR/MainProcess] consumer: Cannot connect to amqp://guest:**@rabbitmq:5672//: [Errno 111] Connection refused.",
     "dependency_unavailable", {"host": "rabbitmq", "port": "5672"}),
    # Node.js
    ("Error: Cannot find module 'express'", "missing_dependency", {"module": "express"}),
    ("Error: Cannot find module '@nestjs/core'", "missing_dependency", {"module": "@nestjs/core"}),
    ("Error: Cannot find module '/app/dist/main.js'", "bad_command", {"path": "/app/dist/main.js"}),
    ("Error [ERR_MODULE_NOT_FOUND]: Cannot find package 'dotenv' imported from /app/index.mjs", "missing_dependency", {"module": "dotenv"}),
    ("Error: listen EADDRINUSE: address already in use :::3000", "port_in_use", {"port": "3000"}),
    ("Error: listen EADDRINUSE 0.0.0.0:8080", "port_in_use", {"port": "8080"}),
    ("Error: listen EACCES: permission denied 0.0.0.0:80", "permission_denied", {"port": "80"}),
    ("Error: EACCES: permission denied, open '/app/logs/server.log'", "permission_denied", {"path": "/app/logs/server.log"}),
    ("Error: ENOENT: no such file or directory, open '/app/config/production.json'", "file_not_found", {"path": "/app/config/production.json"}),
    ("Error: EROFS: read-only file system, mkdir '/app/uploads'", "permission_denied", {"path": "/app/uploads"}),
    ("Error: connect ECONNREFUSED 10.96.0.20:6379", "dependency_unavailable", {"host": "10.96.0.20", "port": "6379"}),
    ("Error: connect ECONNREFUSED ::1:5432", "dependency_unavailable", {"host": "::1", "port": "5432"}),
    ("Error: connect ETIMEDOUT 10.0.3.7:443", "dependency_unavailable", {"host": "10.0.3.7", "port": "443"}),
    ("Error: getaddrinfo ENOTFOUND redis-mastr", "network_error", {"host": "redis-mastr"}),
    ("Error: getaddrinfo EAI_AGAIN postgres.db.svc.cluster.local", "network_error", {"host": "postgres.db.svc.cluster.local"}),
    ("FATAL ERROR: Reached heap limit Allocation failed - JavaScript heap out of memory", "oom_killed", {}),
    ("[UnhandledPromiseRejection: This error originated either by throwing inside of an async function without a catch block. The promise rejected with the reason \"boom\".] {",
     "app_crash", {}),
    ("TypeError: Cannot read properties of undefined (reading 'split')", "app_crash", {}),
    ("npm ERR! Missing script: \"start\"", "bad_command", {}),
    ("Error: P1001: Can't reach database server at `postgres`:`5432`", "dependency_unavailable", {"host": "postgres", "port": "5432"}),
    # Go
    ("panic: runtime error: invalid memory address or nil pointer dereference", "app_crash", {"exception": "invalid memory address or nil pointer dereference"}),
    ("panic: something unexpected happened", "app_crash", {}),
    ("fatal error: all goroutines are asleep - deadlock!", "app_crash", {}),
    ("fatal error: runtime: out of memory", "oom_killed", {}),
    ("2026/03/02 10:28:04 dial tcp 10.96.12.34:5432: connect: connection refused", "dependency_unavailable", {"host": "10.96.12.34", "port": "5432"}),
    ('level=fatal msg="cannot connect" error="dial tcp [::1]:6379: connect: connection refused"', "dependency_unavailable", {"host": "[::1]", "port": "6379"}),
    ("failed to ping db: dial tcp: lookup postgres on 10.96.0.10:53: no such host", "network_error", {"host": "postgres"}),
    ("dial tcp: lookup api.payments.svc.cluster.local on 10.96.0.10:53: read udp 10.244.1.5:41234->10.96.0.10:53: i/o timeout", "network_error", {"host": "api.payments.svc.cluster.local"}),
    ("listen tcp :8080: bind: address already in use", "port_in_use", {"port": "8080"}),
    ("listen tcp 0.0.0.0:443: bind: permission denied", "permission_denied", {"port": "443"}),
    ("open /etc/app/config.yaml: no such file or directory", "file_not_found", {"path": "/etc/app/config.yaml"}),
    ("mkdir /var/lib/app/data: read-only file system", "permission_denied", {"path": "/var/lib/app/data"}),
    ("flag provided but not defined: -listen-addr", "bad_command", {"flag": "listen-addr"}),
    ('invalid value "fast" for flag -mode: parse error', "invalid_config", {"flag": "mode"}),
    ("yaml: line 7: mapping values are not allowed in this context", "invalid_config", {}),
    ("dial tcp 10.0.0.9:8443: i/o timeout", "dependency_unavailable", {"host": "10.0.0.9", "port": "8443"}),
    ("Error: unknown flag: --enable-foo", "bad_command", {"flag": "enable-foo"}),
    # JVM
    ('Exception in thread "main" java.lang.NoClassDefFoundError: org/slf4j/LoggerFactory', "missing_dependency", {"class": "org/slf4j/LoggerFactory"}),
    ("Caused by: java.lang.ClassNotFoundException: org.postgresql.Driver", "missing_dependency", {"class": "org.postgresql.Driver"}),
    ("Error: Could not find or load main class com.example.Application", "bad_command", {"class": "com.example.Application"}),
    ("Error: Unable to access jarfile /app/app.jar", "bad_command", {"path": "/app/app.jar"}),
    ('Exception in thread "main" java.lang.UnsupportedClassVersionError: com/example/App has been compiled by a more recent version of the Java Runtime (class file version 65.0), this version of the Java Runtime only recognizes class file versions up to 61.0',
     "missing_dependency", {"class": "com/example/App"}),
    ('Exception in thread "main" java.lang.OutOfMemoryError: Java heap space', "oom_killed", {"exception": "Java heap space"}),
    ("java.lang.OutOfMemoryError: Metaspace", "oom_killed", {}),
    ("APPLICATION FAILED TO START", "invalid_config", {}),
    ("Web server failed to start. Port 8080 was already in use.", "port_in_use", {"port": "8080"}),
    ("java.lang.IllegalArgumentException: Could not resolve placeholder 'DB_PASSWORD' in value \"${DB_PASSWORD}\"", "missing_env_var", {"var": "DB_PASSWORD"}),
    ("Caused by: java.net.ConnectException: Connection refused", "dependency_unavailable", {}),
    ("org.postgresql.util.PSQLException: Connection to postgres:5432 refused. Check that the hostname and port are correct and that the postmaster is accepting TCP/IP connections.",
     "dependency_unavailable", {"host": "postgres", "port": "5432"}),
    ("Caused by: java.net.UnknownHostException: kafka-broker-0.kafka-headless", "network_error", {"host": "kafka-broker-0.kafka-headless"}),
    ("io.netty.channel.AbstractChannel$AnnotatedConnectException: Connection refused: redis/10.96.4.4:6379", "dependency_unavailable", {"host": "redis", "port": "6379"}),
    ("java.io.FileNotFoundException: /config/application.properties (No such file or directory)", "file_not_found", {"path": "/config/application.properties"}),
    ("java.nio.file.AccessDeniedException: /data/index/write.lock", "permission_denied", {"path": "/data/index/write.lock"}),
    ("Error occurred during initialization of VM\nCould not reserve enough space for 4194304KB object heap", "oom_killed", {}),
    ("com.mysql.cj.jdbc.exceptions.CommunicationsException: Communications link failure", "dependency_unavailable", {}),
    # Ruby
    ("<internal:/usr/local/lib/ruby/3.2.0/rubygems/core_ext/kernel_require.rb>:85:in `require': cannot load such file -- pg (LoadError)", "missing_dependency", {"module": "pg"}),
    ("Could not find rake-13.0.6 in any of the sources (Bundler::GemNotFound)", "missing_dependency", {"module": "rake"}),
    ('/usr/local/bundle/gems/redis-4.8.0/lib/redis/client.rb:398:in `rescue in establish_connection\': Error connecting to Redis on redis:6379 (Errno::ECONNREFUSED) (Redis::CannotConnectError)',
     "dependency_unavailable", {"host": "redis", "port": "6379"}),
    ('Errno::ECONNREFUSED: Connection refused - connect(2) for "db" port 5432', "dependency_unavailable", {"host": "db", "port": "5432"}),
    ('/app/config/initializers/stripe.rb:1:in `fetch\': key not found: "STRIPE_API_KEY" (KeyError)', "missing_env_var", {"var": "STRIPE_API_KEY"}),
    ("/app/lib/loader.rb:12:in `initialize': No such file or directory @ rb_sysopen - /app/config/settings.yml (Errno::ENOENT)", "file_not_found", {"path": "/app/config/settings.yml"}),
    ('Address already in use - bind(2) for "0.0.0.0" port 3000 (Errno::EADDRINUSE)', "port_in_use", {"port": "3000"}),
    ("/app/app.rb:7:in `<main>': undefined method `call' for nil:NilClass (NoMethodError)", "app_crash", {"exception": "NoMethodError"}),
    # .NET
    ("Unhandled exception. System.InvalidOperationException: Unable to resolve service for type 'IClock'", "app_crash", {"exception": "System.InvalidOperationException"}),
    ("Unhandled exception. System.IO.FileNotFoundException: Could not load file or assembly 'Newtonsoft.Json, Version=13.0.0.0, Culture=neutral'. The system cannot find the file specified.",
     "missing_dependency", {"module": "Newtonsoft.Json"}),
    ("System.IO.FileNotFoundException: The configuration file 'appsettings.Production.json' was not found and is not optional.", "file_not_found", {"path": "appsettings.Production.json"}),
    ("Unhandled exception. System.OutOfMemoryException: Exception of type 'System.OutOfMemoryException' was thrown.", "oom_killed", {}),
    ("System.Net.Http.HttpRequestException: Connection refused (catalog-api:80)", "dependency_unavailable", {"host": "catalog-api", "port": "80"}),
    ("System.IO.IOException: Failed to bind to address http://[::]:80: address already in use.", "port_in_use", {"port": "80"}),
    ("System.UnauthorizedAccessException: Access to the path '/app/keys' is denied.", "permission_denied", {"path": "/app/keys"}),
    ("You must install or update .NET to run this application.", "missing_dependency", {}),
    ("The framework 'Microsoft.AspNetCore.App', version '8.0.0' (x64) was not found.", "missing_dependency", {"module": "Microsoft.AspNetCore.App"}),
    ("Microsoft.Data.SqlClient.SqlException (0x80131904): Login failed for user 'sa'.", "invalid_config", {"user": "sa"}),
    # Rust
    ("thread 'main' panicked at src/main.rs:14:10:", "app_crash", {}),
    ("thread 'main' panicked at 'called `Result::unwrap()` on an `Err` value: NotPresent', src/config.rs:8:45", "missing_env_var", {}),
    ("memory allocation of 8589934592 bytes failed", "oom_killed", {}),
    # PostgreSQL
    ('psycopg2.OperationalError: connection to server at "db" (10.96.0.30), port 5432 failed: FATAL:  password authentication failed for user "shop"', "invalid_config", {"user": "shop"}),
    ("2026-11-20 14:28:24.233 UTC [31] FATAL:  the database system is in recovery mode", "dependency_unavailable", {"exception": "in recovery mode"}),
    ("FATAL:  the database system is starting up", "dependency_unavailable", {}),
    ('ERROR could not connect to database: connection to server at "postgres.production.svc.cluster.local" (10.96.12.34), port 5432 failed: Connection refused',
     "dependency_unavailable", {"host": "postgres.production.svc.cluster.local", "port": "5432"}),
    ("psql: error: could not connect to server: Connection refused", "dependency_unavailable", {}),
    ('could not translate host name "postgres-primary" to address: Name or service not known', "network_error", {"host": "postgres-primary"}),
    ("FATAL:  sorry, too many clients already", "dependency_unavailable", {}),
    ('FATAL:  database "orders" does not exist', "invalid_config", {"database": "orders"}),
    ('FATAL:  data directory "/var/lib/postgresql/data/pgdata" has wrong ownership', "permission_denied", {"path": "/var/lib/postgresql/data/pgdata"}),
    ("       You must specify POSTGRES_PASSWORD to a non-empty value for the", "missing_env_var", {"var": "POSTGRES_PASSWORD"}),
    # MySQL
    ("ERROR 1045 (28000): Access denied for user 'app'@'10.244.2.17' (using password: YES)", "invalid_config", {"user": "app"}),
    ("ERROR 2003 (HY000): Can't connect to MySQL server on 'mysql:3306' (111)", "dependency_unavailable", {"host": "mysql", "port": "3306"}),
    ("sqlalchemy.exc.OperationalError: (pymysql.err.OperationalError) (2003, \"Can't connect to MySQL server on 'mariadb' ([Errno 111] Connection refused)\")",
     "dependency_unavailable", {"host": "mariadb"}),
    ("ERROR 1049 (42000): Unknown database 'shop'", "invalid_config", {"database": "shop"}),
    ("ERROR 2005 (HY000): Unknown MySQL server host 'mysqll' (-2)", "network_error", {"host": "mysqll"}),
    # Redis, Mongo, Kafka
    ("Could not connect to Redis at redis:6379: Connection refused", "dependency_unavailable", {"host": "redis", "port": "6379"}),
    ("redis.exceptions.ConnectionError: Error 111 connecting to cache:6379. Connection refused.", "dependency_unavailable", {"host": "cache", "port": "6379"}),
    ("redis.exceptions.ConnectionError: Error -2 connecting to redis-master:6379. Name or service not known.", "network_error", {"host": "redis-master", "port": "6379"}),
    ("ReplyError: NOAUTH Authentication required.", "invalid_config", {}),
    ("MongoNetworkError: failed to connect to server [mongo:27017] on first connect [Error: connect ECONNREFUSED 10.96.3.3:27017", "dependency_unavailable", {"host": "mongo", "port": "27017"}),
    ("pymongo.errors.ServerSelectionTimeoutError: mongodb:27017: [Errno 111] Connection refused, Timeout: 30s, Topology Description: <TopologyDescription>", "dependency_unavailable", {"host": "mongodb", "port": "27017"}),
    ("MongoServerError: Authentication failed.", "invalid_config", {}),
    ("WARNING: MongoDB 5.0+ requires a CPU with AVX support, and your current system does not appear to have that!", "node_issue", {}),
    ("kafka.errors.NoBrokersAvailable: NoBrokersAvailable", "dependency_unavailable", {}),
    ("[Producer clientId=producer-1] Connection to node -1 (kafka/10.96.7.7:9092) could not be established. Broker may not be available.", "dependency_unavailable", {"host": "kafka", "port": "9092"}),
    ("Couldn't resolve server kafka:9092 from bootstrap.servers as DNS resolution failed for kafka", "network_error", {"host": "kafka", "port": "9092"}),
    # nginx
    ('nginx: [emerg] host not found in upstream "backend:8080" in /etc/nginx/conf.d/default.conf:12', "network_error", {"host": "backend", "port": "8080"}),
    ("nginx: [emerg] bind() to 0.0.0.0:80 failed (98: Address already in use)", "port_in_use", {"port": "80"}),
    ("2026/03/02 10:28:04 [emerg] 1#1: bind() to 0.0.0.0:80 failed (13: Permission denied)", "permission_denied", {"port": "80"}),
    ('nginx: [emerg] mkdir() "/var/cache/nginx/client_temp" failed (30: Read-only file system)', "permission_denied", {"path": "/var/cache/nginx/client_temp"}),
    ('nginx: [emerg] unknown directive "proxy_passs" in /etc/nginx/conf.d/app.conf:14', "invalid_config", {}),
    ('nginx: [emerg] "server" directive is not allowed here in /etc/nginx/nginx.conf:3', "invalid_config", {}),
    ('nginx: [emerg] open() "/etc/nginx/conf.d/upstreams.conf" failed (2: No such file or directory) in /etc/nginx/nginx.conf:30', "file_not_found", {"path": "/etc/nginx/conf.d/upstreams.conf"}),
    # shell and runtime
    ("exec /usr/local/bin/server: exec format error", "bad_command", {"path": "/usr/local/bin/server"}),
    ("standard_init_linux.go:228: exec user process caused: exec format error", "bad_command", {}),
    ('exec: "gunicorn": executable file not found in $PATH', "bad_command", {"path": "gunicorn"}),
    ("/bin/sh: 1: gunicorn: not found", "bad_command", {"path": "gunicorn"}),
    ("/docker-entrypoint.sh: line 12: envsubst: command not found", "bad_command", {"path": "envsubst"}),
    ("/bin/sh: can't open '/app/start.sh': No such file or directory", "bad_command", {"path": "/app/start.sh"}),
    ("exec /app/entrypoint.sh: no such file or directory", "bad_command", {"path": "/app/entrypoint.sh"}),
    ("/usr/bin/env: 'python3': No such file or directory", "bad_command", {"path": "python3"}),
    ("/app/server: error while loading shared libraries: libssl.so.1.1: cannot open shared object file: No such file or directory", "missing_dependency", {"module": "libssl.so.1.1"}),
    ("./app: /lib/x86_64-linux-gnu/libc.so.6: version `GLIBC_2.34' not found (required by ./app)", "missing_dependency", {"module": "GLIBC_2.34"}),
    ("Error: DATABASE_URL environment variable is required but not set", "missing_env_var", {"var": "DATABASE_URL"}),
    ("FATAL: required environment variable JWT_SECRET is not set", "missing_env_var", {"var": "JWT_SECRET"}),
    ("config error: missing required env var: STRIPE_KEY", "missing_env_var", {"var": "STRIPE_KEY"}),
    ("environment variable REDIS_URL is not set", "missing_env_var", {"var": "REDIS_URL"}),
    ("thread 'main' panicked at src/main.rs:5:40: DATABASE_URL must be set", "missing_env_var", {"var": "DATABASE_URL"}),
    ("/entrypoint.sh: line 4: API_TOKEN: unbound variable", "missing_env_var", {"var": "API_TOKEN"}),
    ("Fatal glibc error: CPU does not support x86-64-v2", "node_issue", {}),
    ("Illegal instruction (core dumped)", "node_issue", {}),
    ("The TensorFlow library was compiled to use AVX instructions, but these aren't available on your machine.", "node_issue", {}),
    ("Killed", "oom_killed", {}),
    ("/start.sh: line 9:    23 Killed                  python train.py", "oom_killed", {}),
    ("Segmentation fault (core dumped)", "app_crash", {}),
    ("terminate called after throwing an instance of 'std::runtime_error'", "app_crash", {"exception": "std::runtime_error"}),
    ("terminate called after throwing an instance of 'std::bad_alloc'", "oom_killed", {}),
    ("mkdir: cannot create directory '/data/db': Permission denied", "permission_denied", {"path": "/data/db"}),
    ("touch: cannot touch '/etc/app/ready': Read-only file system", "permission_denied", {"path": "/etc/app/ready"}),
    ("cat: /etc/app/token: No such file or directory", "file_not_found", {"path": "/etc/app/token"}),
    ("curl: (6) Could not resolve host: api.internal", "network_error", {"host": "api.internal"}),
    ("curl: (7) Failed to connect to backend port 8080 after 2 ms: Connection refused", "dependency_unavailable", {"host": "backend", "port": "8080"}),
    ("socket.gaierror: [Errno -3] Temporary failure in name resolution", "network_error", {}),
    ('Get "https://vault.internal:8200/v1/sys/health": x509: certificate signed by unknown authority', "invalid_config", {}),
    ("x509: certificate has expired or is not yet valid: current time 2026-03-02T10:00:00Z is after 2026-01-01T00:00:00Z", "invalid_config", {}),
    ("error: write /var/lib/app/wal/000123.log: no space left on device", "node_issue", {}),
    ("failed to create fsnotify watcher: too many open files", "node_issue", {}),
    ("usage: app.py [-h] --config CONFIG\napp.py: error: unrecognized arguments: --verbose", "bad_command", {"flag": "--verbose"}),
    ("upstream connect error or disconnect/reset before headers. reset reason: connection failure", "network_error", {}),
    ("/docker-entrypoint.sh: exec: line 47: /app/run: not found", "bad_command", {"path": "/app/run"}),
    ("ERROR: [1] bootstrap checks failed. max virtual memory areas vm.max_map_count [65530] is too low, increase to at least [262144]", "node_issue", {}),
    ("Error: ENOSPC: System limit for number of file watchers reached, watch '/app/src'", "node_issue", {}),
    ("PHP Fatal error:  Allowed memory size of 134217728 bytes exhausted (tried to allocate 20480 bytes)", "oom_killed", {}),
    ("Error: couldn't connect to server mongo-0.mongo:27017, connection attempt failed: SocketException: Connection refused", "dependency_unavailable", {"host": "mongo-0.mongo", "port": "27017"}),
    ('pods is forbidden: User "system:serviceaccount:shop:operator" cannot list resource "pods" in API group "" in the namespace "shop"', "permission_denied", {"user": "system:serviceaccount:shop:operator"}),
    ("Cannot connect to the Docker daemon: dial unix /var/run/docker.sock: connect: no such file or directory", "file_not_found", {"path": "/var/run/docker.sock"}),
]

# Harmless lines: no hit at all, or nothing fatal.
HARMLESS = [
    "INFO connected to database",
    "retrying connection (attempt 1)",
    "2026-03-02T10:28:00Z INFO  listening on :8080",
    "2026-11-20 09:02:06.311 UTC [1] LOG:  database system is ready to accept connections",
    "WARN redis connection refused, retrying in 1s",
    "WARN database connection attempt 1/3 failed, retrying in 1s",
    '10.244.0.1 - - [02/Mar/2026:10:28:04 +0000] "GET /favicon.ico HTTP/1.1" 404 153 "-" "kube-probe/1.29"',
    '2026/03/02 10:28:04 [error] 29#29: *1 open() "/usr/share/nginx/html/favicon.ico" failed (2: No such file or directory), client: 10.244.0.1, server: localhost',
    "nginx: [warn] the \"user\" directive makes sense only if the master process runs with super-user privileges, ignored in /etc/nginx/nginx.conf:2",
    "Your CPU supports instructions that this TensorFlow binary was not compiled to use: AVX2 FMA",
    "Successfully installed requests-2.31.0",
    "Started Application in 4.2 seconds (process running for 4.9)",
    "[2026-03-02 10:00:01,001: INFO/MainProcess] Connected to amqp://guest:**@rabbitmq:5672//",
    "celery@worker ready.",
]


def top(line):
    hits = match_line(line)
    assert hits, f"no signature matched {line!r}"
    return hits[0]


@pytest.mark.parametrize("line, category, groups", LINES, ids=[f"{i:03d}-{c}" for i, (_, c, _) in enumerate(LINES)])
def test_line_decides_category_and_captures(line, category, groups):
    last = line.splitlines()[-1]
    hit = top(last)
    assert hit.signature.category == category, (hit.signature.id, last)
    for name, value in groups.items():
        assert hit.groups.get(name) == value, (hit.signature.id, name, hit.groups)


@pytest.mark.parametrize("line", HARMLESS)
def test_harmless_lines_are_never_fatal(line):
    assert not [h.signature.id for h in match_line(line) if h.signature.fatal]


def test_table_is_well_formed():
    assert check_table() == []
    assert check_table(RETRY_TWINS.values()) == []
    assert len(SIGNATURES) >= 150
    assert {s.category for s in SIGNATURES} <= set(CATEGORIES)


def test_placeholders_name_groups_of_their_pattern():
    for s in SIGNATURES:
        assert placeholders(s.what) <= set(s.pattern.groupindex), s.id
        assert set(s.pattern.groupindex) <= GROUPS, s.id


def test_every_category_a_log_can_show_is_covered():
    covered = {s.category for s in SIGNATURES}
    missing = set(CATEGORIES) - covered - {"missing_config_object", "probe_failure", "image_error", "completed_exit_zero", "unknown"}
    assert not missing


def test_retrying_line_keeps_its_values_but_is_not_fatal():
    hit = top("2026-03-02 WARN dial tcp 10.96.0.5:5432: connect: connection refused; retrying in 2s")
    assert hit.signature.id == "go.dial_refused.retrying" and not hit.signature.fatal
    assert hit.groups == {"host": "10.96.0.5", "port": "5432"}
    final = top("dial tcp 10.96.0.5:5432: connect: connection refused; retrying failed 5 times, giving up")
    assert final.signature.fatal


@pytest.mark.parametrize("line, level", [
    ("2026-03-02T10:00:00Z INFO connected", 0), ("2026-03-02T10:00:00Z DEBUG x", 0), ("WARN slow", 1), ("[warning] disk at 80%", 1),
    ("2026-03-02 10:00:00,123 ERROR app boom", 2), ('{"level":"error","msg":"x"}', 2), ("level=fatal msg=x", 3), ('{"level":60}', 3),
    ("E0302 10:00:00.123456       1 main.go:42] failed", 2), ("F0302 10:00:00.123456       1 main.go:42] dead", 3),
    ("2026/03/02 10:28:04 [emerg] 1#1: bind() failed", 3), ("2026-11-20 14:28:24.233 UTC [31] FATAL:  the database system is in recovery mode", 3),
    ("2026-11-20 14:28:21.004 UTC [1] LOG:  starting PostgreSQL", 0), ("panic: runtime error", 3), ("Error: Cannot find module 'x'", 2),
    ("KeyError: 'X'", -1), ("ERROR_BUDGET=3 is fine", -1), ("", -1), ("CRITICAL:root:out of disk", 3),
])
def test_line_severity(line, level):
    assert line_severity(line) == level


def test_match_line_orders_strongest_first_and_scan_keeps_one_per_category():
    line = "Error: connect ECONNREFUSED 10.96.0.20:6379"
    hits = match_line(line)
    assert [h.signature.strength for h in hits] == sorted((h.signature.strength for h in hits), reverse=True)
    assert len([h for h in hits if h.signature.category == "dependency_unavailable"]) > 1
    scanned = scan(["INFO start", line + "\n"])
    assert [(h.line_no, h.signature.id) for h in scanned] == [(2, h.signature.id) for h in per_category(hits)]
    assert scanned[0].line == line and scanned[0].severity == 2


def test_only_the_first_2000_characters_are_read():
    assert match_line("x" * 5000 + " connection refused") == []
    hit = top("Error: connect ECONNREFUSED 10.0.0.1:80 " + "y" * 5000)
    assert len(hit.line) == 2000


def _brute(line):
    out = []
    for s in SIGNATURES:
        if s.pattern.search(line):
            out.append(s.id)
    return sorted(out)


def test_prefilter_never_hides_a_match():
    """Running only the signatures whose literals appear must find what running all of them finds."""
    random.seed(7)
    fragments = [line for line, _, _ in LINES] + HARMLESS
    words = ["refused", "error", "Error:", "panic:", "x509: ", "[emerg]", "KeyError: 'A_B'", "not set", "env var", "timeout", ":", "'", '"', "/x/y"]
    for _ in range(400):
        parts = random.sample(fragments, 2) + random.sample(words, 3) + ["".join(random.choices(string.printable[:94], k=8))]
        random.shuffle(parts)
        line = " ".join(parts)[:2000]
        found = sorted({h.signature.id.removesuffix(".retrying") for h in match_line(line)})
        assert found == _brute(line) or (not found and _harmless(line)), line


def _harmless(line):
    from copilot.rules.signatures import _HARMLESS
    return bool(_HARMLESS.search(line))


def test_every_signature_has_a_prefilter_literal():
    for s in SIGNATURES:
        assert needles(s.pattern), s.id


def test_scan_speed():
    lines = [f"2026-03-02T10:{i % 60:02d}:00.123Z INFO  request handled path=/api/v1/items/{i} status=200 duration={i % 97}ms" for i in range(100_000)]
    lines[::100] = [f"2026-03-02T10:00:00Z ERROR dial tcp 10.96.0.{i % 250}:5432: connect: connection refused" for i in range(1000)]
    start = time.perf_counter()
    hits = scan(lines)
    elapsed = time.perf_counter() - start
    assert len({h.line_no for h in hits}) == 1000
    assert elapsed < 2.0, elapsed


def test_groups_are_stripped_strings():
    for line, _, _ in LINES:
        for hit in match_line(line.splitlines()[-1]):
            assert all(isinstance(v, str) and v == v.strip() for v in hit.groups.values())
            assert re.sub(r"\s", "", hit.line)
