"""Log signatures of the services a workload talks to or runs: databases, caches, brokers, nginx, the mesh.

Rows are (id, category, strength, fatal, regex, what); see copilot.rules.signatures.
"""

POSTGRES = (
    ("postgres.password_failed", "invalid_config", 0.92, True, r"password authentication failed for user \"(?P<user>[^\"]+)\"", "PostgreSQL rejects the password of user {user}"),
    ("postgres.not_accepting", "dependency_unavailable", 0.74, True, r"the database system is (?P<exception>in recovery mode|starting up|shutting down|not yet accepting connections|not accepting connections)", "PostgreSQL is not accepting connections: {exception}"),
    ("postgres.recovering", "dependency_unavailable", 0.38, False, r"automatic recovery in progress|database system was interrupted|redo starts at [0-9A-F]+/", "PostgreSQL is recovering after an unclean stop"),
    ("postgres.server_at_failed", "dependency_unavailable", 0.74, True, r"connection to server at \"<HOST>\"(?: \([^)]*\))?, port <PORT> failed: (?:Connection refused|Connection timed out|No route to host|timeout expired|could not receive data from server|server closed the connection unexpectedly)", "PostgreSQL at {host}:{port} is not accepting connections"),
    ("postgres.could_not_connect", "dependency_unavailable", 0.67, True, r"could not connect to server: (?:Connection refused|Connection timed out|No route to host)", "PostgreSQL is not accepting connections"),
    ("postgres.is_server_running", "dependency_unavailable", 0.5, False, r"Is the server running on host \"<HOST>\"", "PostgreSQL on {host} is not accepting connections"),
    ("postgres.tcp_port", "dependency_unavailable", 0.34, False, r"TCP/IP connections on port <PORT>\?", "nothing accepts PostgreSQL connections on port {port}"),
    ("postgres.local_socket", "dependency_unavailable", 0.46, True, r"connection to server on socket \"(?P<path>[^\"]+)\" failed|Is the server running locally and accepting", "the client tried the local PostgreSQL socket: no database host is configured, or no server runs here"),
    ("postgres.translate_host", "network_error", 0.77, True, r"could not translate host name \"<HOST>\" to address", "the database host name {host} does not resolve"),
    ("postgres.too_many_clients", "dependency_unavailable", 0.67, True, r"sorry, too many clients already|remaining connection slots are reserved|too many connections for role", "PostgreSQL has no free connection slots"),
    ("postgres.database_missing", "invalid_config", 0.85, True, r"FATAL:\s+database \"(?P<database>[^\"]+)\" does not exist", "database {database} does not exist on the server"),
    ("postgres.role_missing", "invalid_config", 0.85, True, r"role \"(?P<user>[^\"]+)\" does not exist", "database role {user} does not exist"),
    ("postgres.pg_hba", "invalid_config", 0.88, True, r"no pg_hba\.conf entry for host \"[^\"]+\", user \"(?P<user>[^\"]+)\"", "pg_hba.conf does not admit user {user} from this client"),
    ("postgres.data_dir_ownership", "permission_denied", 0.9, True, r"data directory \"(?P<path>[^\"]+)\" has (?:wrong ownership|invalid permissions)", "the PostgreSQL data directory {path} has the wrong owner or mode (fsGroup/runAsUser)"),
    ("postgres.data_dir_not_empty", "invalid_config", 0.8, True, r"directory \"(?P<path>[^\"]+)\" exists but is not empty", "the data directory {path} is not empty (lost+found on a fresh volume: use a subdirectory as PGDATA)"),
    ("postgres.file_denied", "permission_denied", 0.85, True, r"could not (?:create|open|write to) (?:lock )?(?:file|directory) \"(?P<path>[^\"]+)\": (?:Permission denied|Read-only file system)", "PostgreSQL may not write {path}"),
    ("postgres.uninitialized", "missing_env_var", 0.9, True, r"Database is uninitialized and superuser password is not specified", "the postgres image needs POSTGRES_PASSWORD (or POSTGRES_HOST_AUTH_METHOD) to initialise the database"),
    ("postgres.must_specify", "missing_env_var", 0.92, True, r"You must specify (?P<var>POSTGRES_PASSWORD) to a non-empty value", "environment variable {var} is not set"),
    ("postgres.backend_killed", "oom_killed", 0.6, False, r"server process \(PID \d+\) was terminated by signal 9", "a PostgreSQL backend was SIGKILLed, usually by the OOM killer"),
)

MYSQL = (
    ("mysql.access_denied", "invalid_config", 0.9, True, r"Access denied for user '(?P<user>[^']*)'@", "MySQL rejects the credentials of user {user}"),
    ("mysql.cant_connect", "dependency_unavailable", 0.71, True, r"Can't connect to MySQL server on '<HOST>(?::<PORT>)?'", "the MySQL server {host} is not reachable"),
    ("mysql.local_socket", "dependency_unavailable", 0.46, True, r"Can't connect to local MySQL server through socket '(?P<path>[^']+)'", "nothing listens on the local MySQL socket {path}: no database host is configured, or the server failed to start"),
    ("mysql.unknown_database", "invalid_config", 0.88, True, r"Unknown database '(?P<database>[^']+)'", "database {database} does not exist on the server"),
    ("mysql.unknown_host", "network_error", 0.77, True, r"Unknown MySQL server host '<HOST>'", "the database host name {host} does not resolve"),
    ("mysql.too_many_connections", "dependency_unavailable", 0.63, True, r"\bToo many connections\b", "MySQL has no free connection slots"),
    ("mysql.datadir_not_empty", "invalid_config", 0.85, True, r"--initialize specified but the data directory has files in it", "the MySQL data directory is not empty (lost+found on a fresh volume)"),
    ("mysql.cant_write", "permission_denied", 0.88, True, r"Can't create/write to file '(?P<path>[^']+)' \((?:Errcode: |OS errno )13\b", "MySQL may not write {path}"),
    ("mysql.uninitialized", "missing_env_var", 0.9, True, r"[Dd]atabase is uninitialized and password option is not specified", "the mysql/mariadb image needs MYSQL_ROOT_PASSWORD (or an ALLOW_EMPTY/RANDOM root password variable)"),
    ("mysql.need_one_of", "missing_env_var", 0.85, True, r"You need to specify one of (?:the following as an environment variable|<VAR>)", "one of the image's required password variables must be set"),
    ("php.pdo_refused", "dependency_unavailable", 0.67, True, r"SQLSTATE\[HY000\] \[2002\] Connection refused", "the database refuses connections"),
    ("php.pdo_dns", "network_error", 0.74, True, r"SQLSTATE\[HY000\] \[2002\] php_network_getaddresses: getaddrinfo", "the database host name does not resolve"),
)

REDIS = (
    ("redis.could_not_connect", "dependency_unavailable", 0.74, True, r"Could not connect to Redis at <HOSTPORT>: (?:Connection refused|Connection timed out|No route to host)", "Redis at {host}:{port} is not reachable"),
    ("redis.could_not_resolve", "network_error", 0.76, True, r"Could not connect to Redis at <HOSTPORT>: (?:Name or service not known|Temporary failure in name resolution|No address associated)", "the Redis host name {host} does not resolve"),
    ("redis.py_refused", "dependency_unavailable", 0.74, True, r"Error 111 connecting to <HOSTPORT>\.", "Redis at {host}:{port} refuses connections"),
    ("redis.py_dns", "network_error", 0.74, True, r"Error -?[235] connecting to <HOSTPORT>\.", "the Redis host name {host} does not resolve"),
    ("redis.node_failed", "dependency_unavailable", 0.74, True, r"Redis connection to <HOSTPORT> failed", "Redis at {host}:{port} is not reachable"),
    ("redis.auth", "invalid_config", 0.85, True, r"NOAUTH Authentication required|WRONGPASS invalid username-password pair|ERR invalid password|ERR AUTH <password> called without any password configured|ERR Client sent AUTH, but no password is set", "Redis rejects the configured credentials"),
    ("redis.loading", "dependency_unavailable", 0.67, True, r"LOADING Redis is loading the dataset in memory", "Redis is still loading its dataset"),
    ("redis.replica", "dependency_unavailable", 0.59, True, r"MASTERDOWN Link with MASTER is down|READONLY You can't write against a read only replica", "Redis has no writable master"),
    ("redis.misconf", "dependency_unavailable", 0.59, True, r"MISCONF Redis is configured to save RDB snapshots", "Redis cannot persist to disk and refuses writes"),
)

MONGO = (
    ("mongo.first_connect", "dependency_unavailable", 0.74, True, r"failed to connect to server \[<HOSTPORT>\] on first connect", "MongoDB at {host}:{port} is not reachable"),
    ("mongo.selection_refused", "dependency_unavailable", 0.74, True, r"ServerSelectionTimeoutError: <HOSTPORT>: (?:\[Errno 111\] )?Connection refused", "MongoDB at {host}:{port} refuses connections"),
    ("mongo.selection_dns", "network_error", 0.74, True, r"ServerSelectionTimeoutError: <HOSTPORT>: \[Errno -?[235]\]", "the MongoDB host name {host} does not resolve"),
    ("mongo.shell_connect", "dependency_unavailable", 0.67, True, r"couldn't connect to server <HOSTPORT>", "MongoDB at {host}:{port} is not reachable"),
    ("mongo.selection", "dependency_unavailable", 0.59, True, r"Mongo(?:ose)?ServerSelectionError|ServerSelectionTimeoutError", "no MongoDB server could be selected"),
    ("mongo.auth", "invalid_config", 0.85, True, r"(?:MongoServerError|OperationFailure|MongoError|MongoSecurityException): (?:bad auth|Authentication failed)", "MongoDB rejects the configured credentials"),
    ("mongo.parse", "invalid_config", 0.85, True, r"MongoParseError: (?P<exception>.+)", "the MongoDB connection string is invalid: {exception}"),
    ("mongo.avx", "node_issue", 0.95, True, r"MongoDB 5\.0\+ requires a CPU with AVX support", "the node's CPU lacks AVX, which MongoDB 5+ requires"),
    ("mongo.data_dir", "file_not_found", 0.85, True, r"Data directory (?P<path>\S+) not found", "the MongoDB data directory {path} does not exist"),
    ("mongo.lock_read_only", "permission_denied", 0.88, True, r"Attempted to create a lock file on a read-only directory: (?P<path>\S+)", "{path} is read-only for MongoDB"),
)

BROKERS = (
    ("kafka.no_brokers", "dependency_unavailable", 0.71, True, r"NoBrokersAvailable|client has run out of available brokers to talk to", "no Kafka broker is reachable"),
    ("kafka.node_unreachable", "dependency_unavailable", 0.63, False, r"Connection to node -?\d+ \((?:<HOST>)?(?:/[\d.:a-f]+)?:<PORT>\) could not be established", "Kafka broker {host}:{port} is not reachable"),
    ("kafka.bootstrap_dns", "network_error", 0.74, True, r"Couldn't resolve server <HOSTPORT> from bootstrap\.servers", "the Kafka bootstrap host {host} does not resolve"),
    ("kafka.no_resolvable", "network_error", 0.71, True, r"No resolvable bootstrap urls given in bootstrap\.servers", "no Kafka bootstrap host resolves"),
    ("kafka.timeout", "dependency_unavailable", 0.55, True, r"kafka\.common\.errors\.TimeoutException: (?:Timed out waiting for a node assignment|Topic .* not present in metadata)", "the Kafka cluster does not answer"),
    ("kafka.kafkajs", "dependency_unavailable", 0.63, True, r"KafkaJS(?:ConnectionError|NumberOfRetriesExceeded|BrokerNotFound)", "KafkaJS cannot reach a broker"),
    ("kafka.rdkafka_refused", "dependency_unavailable", 0.67, False, r"(?<![\w.:-])<HOSTPORT>/(?:bootstrap|\d+): Connect to ipv[46]#\S+ failed: Connection refused", "Kafka broker {host}:{port} refuses connections"),
    ("kafka.rdkafka_dns", "network_error", 0.71, True, r"Failed to resolve '<HOSTPORT>'", "the Kafka host name {host} does not resolve"),
    ("amqp.refused", "invalid_config", 0.85, True, r"ACCESS_REFUSED - Login was refused", "RabbitMQ rejects the configured credentials"),
    ("amqp.connection", "dependency_unavailable", 0.59, True, r"AMQPConnectionError|Socket closed abruptly during opening handshake", "RabbitMQ is not reachable"),
)

DNS = (
    ("coredns.loop", "invalid_config", 0.9, True, r"plugin/loop: Loop \(\S+ -> \S+\) detected", "CoreDNS forwards queries back to itself (its upstream resolv.conf points at a local stub resolver)"),
)

NGINX = (
    ("nginx.host_not_found", "network_error", 0.8, True, r"host not found in upstream \"<HOST>(?::<PORT>)?\"", "nginx cannot resolve upstream host {host}"),
    ("nginx.bind_in_use", "port_in_use", 0.95, True, r"bind\(\) to \S*?:<PORT> failed \(98: Address (?:already )?in use\)", "port {port} is already in use"),
    ("nginx.bind_denied", "permission_denied", 0.9, True, r"bind\(\) to \S*?:<PORT> failed \(13: Permission denied\)", "binding port {port} is not permitted (ports below 1024 need root or NET_BIND_SERVICE)"),
    ("nginx.read_only", "permission_denied", 0.95, True, r"(?<!\w)\w+\(\) \"(?P<path>[^\"]++)\" failed \(30: Read-only file system\)", "{path} is on a read-only file system"),
    ("nginx.denied", "permission_denied", 0.9, True, r"(?<!\w)\w+\(\) \"(?P<path>[^\"]++)\" failed \(13: Permission denied\)", "nginx may not access {path}"),
    ("nginx.open_missing", "file_not_found", 0.9, True, r"\[emerg\].*open\(\) \"(?P<path>[^\"]+)\" failed \(2: No such file or directory\)", "{path} does not exist"),
    ("nginx.cert_missing", "file_not_found", 0.88, True, r"cannot load certificate(?: key)? \"(?P<path>[^\"]+)\":.*No such file", "certificate {path} does not exist"),
    ("nginx.cert_invalid", "invalid_config", 0.75, True, r"cannot load certificate(?: key)? \"(?P<path>[^\"]+)\"", "certificate {path} cannot be loaded"),
    ("nginx.bad_directive", "invalid_config", 0.88, True, r"\[emerg\].*(?:unknown directive|invalid number of arguments|unexpected \S+|directive is not allowed here|directive is duplicate|invalid parameter|no \"events\" section)", "the nginx configuration is invalid"),
    ("nginx.emerg_in_file", "invalid_config", 0.8, True, r"\[emerg\] .*? in (?P<path>/\S+?):\d+", "the nginx configuration in {path} is invalid"),
    ("nginx.emerg", "invalid_config", 0.5, True, r"\[emerg\]", "nginx stopped on a fatal configuration or start-up error"),
    ("mesh.envoy_not_ready", "network_error", 0.55, False, r"Envoy proxy is NOT ready", "the service-mesh sidecar is not ready"),
    ("mesh.upstream_connect", "network_error", 0.42, True, r"upstream connect error or disconnect/reset before headers", "the service-mesh proxy could not reach the upstream"),
    ("mesh.no_healthy_upstream", "dependency_unavailable", 0.5, True, r"no healthy upstream", "the upstream service has no healthy endpoints"),
)

ROWS = POSTGRES + MYSQL + REDIS + MONGO + BROKERS + DNS + NGINX
