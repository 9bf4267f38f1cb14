"""Generic shell, OS and runtime log signatures: checked last, weaker the less specific they are.

Rows are (id, category, strength, fatal, regex, what); see copilot.rules.signatures.
"""

# Where a path starts inside a word (config/app.yaml: the path is /app.yaml): searched from the start of the
# word only, so that a long run of path characters is scanned once, not once per position.
_IN_WORD = r"(?<![^\s'\"`:;,()<>\[\]{}])[^\s'\"`:;,()<>\[\]{}/]*?"
# The same for a variable name after digits or underscores (_JAVA_OPTIONS: unbound variable names JAVA_OPTIONS).
_VAR_IN_WORD = r"(?<!(?-i:[A-Z0-9_]))[0-9_]*?"
_UNSET = r"(?:is |was |are )?(?:not set|unset|not defined|undefined|missing|required|empty|must be (?:set|defined|provided|specified)|not provided|not found)"

COMMAND = (
    ("exec.format_error_path", "bad_command", 0.95, True, r"exec (?P<path>\S+): exec format error", "{path} is built for another CPU architecture"),
    ("exec.format_error", "bad_command", 0.92, True, r"(?i)exec format error", "the binary is built for another CPU architecture"),
    ("exec.not_in_path", "bad_command", 0.95, True, r"exec: \"(?P<path>[^\"]+)\": executable file not found in \$PATH", "the command {path} does not exist in the image"),
    ("exec.stat_missing", "bad_command", 0.92, True, r"exec: \"(?P<path>[^\"]+)\": (?:stat [^:]+: )?(?:no such file or directory|permission denied)", "the command {path} does not exist or is not executable"),
    ("exec.no_such_file", "bad_command", 0.9, True, r"^exec (?P<path>\S+): no such file or directory", "{path} or the interpreter on its #! line does not exist in the image"),
    ("exec.permission_denied", "bad_command", 0.88, True, r"^exec (?P<path>\S+): permission denied", "{path} is not executable"),
    ("exec.user_process", "bad_command", 0.9, True, r"exec user process caused:? \"?(?:no such file or directory|permission denied)", "the container's command cannot be executed"),
    ("shell.env_interpreter", "bad_command", 0.88, True, r"^(?:/usr/bin/)?env: ['‘]?(?P<path>[^'’:\s]+?)(?:\\r|\r)?['’]?: No such file or directory", "the script's interpreter {path} does not exist (or the script has CRLF line endings)"),
    ("shell.not_found", "bad_command", 0.9, True, r"^\S*sh: (?:(?:line \d+|\d+|exec): )*(?P<path>[^\s:]+): (?:command )?not found", "the command {path} does not exist in the image"),
    ("shell.command_not_found", "bad_command", 0.75, True, r"(?<![\w./-])(?P<path>[\w./-]++): command not found", "the command {path} does not exist in the image"),
    ("shell.cannot_open", "bad_command", 0.88, True, r"^\S*sh: (?:\d+: )?(?i:can't|cannot) open:? '?(?P<path>[^':\s]+)'?", "the script {path} does not exist in the image"),
    ("shell.script_missing", "bad_command", 0.85, True, r"^\S*sh: (?:line \d+: )?(?P<path>/\S+): No such file or directory", "the script {path} does not exist in the image"),
    ("shell.script_denied", "bad_command", 0.85, True, r"^\S*sh: (?:\d+: )?(?:line \d+: )?(?P<path>/\S+): Permission denied", "{path} is not executable"),
    ("flag.unknown", "bad_command", 0.8, True, r"unknown (?:shorthand )?flag:? '?-*(?P<flag>[\w.-]+)", "the command passes flag {flag}, which the program does not know"),
    ("flag.unrecognized_arguments", "bad_command", 0.8, True, r"unrecognized arguments: (?P<flag>.+)", "the command passes arguments the program does not accept: {flag}"),
    ("flag.required_arguments", "bad_command", 0.75, True, r"error: the following arguments are required: (?P<flag>.+)", "the command lacks required arguments: {flag}"),
    ("flag.unrecognized_option", "bad_command", 0.75, True, r"(?:unrecognized|unknown|invalid) option:? (?:-- )?'?-*(?P<flag>[\w.-]+)", "the command passes option {flag}, which the program does not know"),
    ("lib.shared_object", "missing_dependency", 0.92, True, r"error while loading shared libraries: (?P<module>[^:\s]+): cannot open shared object file", "the shared library {module} is missing from the image"),
    ("lib.glibc_version", "missing_dependency", 0.88, True, r"version [`'](?P<module>GLIBC_[\d.]+)' not found", "the binary needs {module}, newer than the image's C library"),
    ("lib.relocating", "missing_dependency", 0.8, True, r"Error relocating (?P<path>\S+): (?P<module>\S+): symbol not found", "{path} was built against another C library (glibc binary on musl?)"),
)

ENV = (
    ("env.requires_these", "missing_env_var", 0.85, True, r"(?i)requires? (?:that )?(?:these|the following) (?:environment )?variables? (?:are |to be |be )?(?:set|defined|provided)", "required environment variables are not set"),
    ("env.named_unset", "missing_env_var", 0.9, True, r"(?i)(?:environment|env)\.? var(?:iable)?s? [`'\"]?<VAR>[`'\"]? " + _UNSET, "environment variable {var} is not set"),
    ("env.unset_named", "missing_env_var", 0.9, True, r"(?i)[`'\"]?" + _VAR_IN_WORD + r"<VAR>[`'\"]? (?:environment|env)\.? var(?:iable)? " + _UNSET, "environment variable {var} is not set"),
    ("env.missing_named", "missing_env_var", 0.9, True, r"(?i)(?:missing|undefined|unset|no) (?:required )?(?:environment|env)\.? var(?:iable)?s?:? [`'\"]?<VAR>", "environment variable {var} is not set"),
    ("env.required_variable", "missing_env_var", 0.88, True, r"(?i)required (?:environment )?variables? [`'\"]?<VAR>[`'\"]? " + _UNSET, "environment variable {var} is not set"),
    ("env.shell_unbound", "missing_env_var", 0.85, True, _VAR_IN_WORD + r"<VAR>: (?:parameter (?:null or )?not set|unbound variable)", "environment variable {var} is not set (the shell script requires it)"),
    ("env.must_be_set", "missing_env_var", 0.8, True, r"\b(?P<var>[A-Z][A-Z0-9]*_[A-Z0-9_]*[A-Z0-9]) (?:must be set|is not set|is required|not set|is missing|is undefined|is empty|must be specified|must not be empty)\b", "environment variable {var} is not set"),
    ("env.cannot_start_without", "missing_env_var", 0.75, True, r"(?i)cannot (?:start|run) without <VAR>", "environment variable {var} is not set"),
    ("env.unnamed", "missing_env_var", 0.6, True, r"(?i)(?:required )?(?:environment|env)\.? var(?:iable)?s? (?:is|are) (?:not set|missing|required)", "a required environment variable is not set"),
)

NODE_LEVEL = (
    ("cpu.x86_64_level", "node_issue", 0.95, True, r"CPU does not support x86-64-v\d", "the node's CPU does not support the x86-64 level the image was built for"),
    ("cpu.avx", "node_issue", 0.9, True, r"(?i)requires (?:a CPU with )?AVX2? (?:support|instructions)|compiled to use AVX instructions, but these aren't available|\bAVX(?:2|512)? (?:is )?not supported", "the node's CPU lacks AVX instructions the program needs"),
    ("cpu.illegal_instruction", "node_issue", 0.8, True, r"(?i)\billegal instruction\b", "the CPU met an instruction it does not support (binary built for a newer CPU)"),
    ("cpu.sigill", "node_issue", 0.75, True, r"\bSIGILL\b", "the CPU met an instruction it does not support (binary built for a newer CPU)"),
    ("kernel.too_old", "node_issue", 0.85, True, r"(?i)kernel too old|kernel (?:does not support|is too old)", "the node's kernel is too old for this image"),
    ("kernel.not_implemented", "node_issue", 0.4, True, r"Function not implemented", "a system call is not available on this node's kernel"),
    ("disk.no_space", "node_issue", 0.6, True, r"(?i)no space left on device", "a disk is full: the node's disk or the mounted volume"),
    ("fd.inotify", "node_issue", 0.75, True, r"(?i)(?:fsnotify watcher|inotify\w*).*too many open files|too many open files.*inotify", "the node's inotify limits are exhausted"),
    ("fd.inotify_watchers", "node_issue", 0.8, True, r"ENOSPC: System limit for number of file watchers reached", "the node's inotify watch limit is exhausted"),
    ("kernel.max_map_count", "node_issue", 0.9, True, r"max virtual memory areas vm\.max_map_count \[\d+\] is too low", "the node's vm.max_map_count sysctl is too low (Elasticsearch needs 262144)"),
    ("fd.too_many_open_files", "node_issue", 0.5, True, r"(?i)too many open files|\bEMFILE\b", "the process ran out of file descriptors (ulimit or node limits)"),
)

MEMORY = (
    ("memory.kernel_oom", "oom_killed", 0.85, True, r"Out of memory: Kill(?:ed)? process|invoked oom-killer|\boom-kill\b", "the kernel OOM killer killed a process"),
    ("memory.bad_alloc", "oom_killed", 0.85, True, r"std::bad_alloc", "a memory allocation failed"),
    ("memory.shell_killed", "oom_killed", 0.6, True, r"line \d+: +\d+ Killed\b", "a child process was SIGKILLed, usually by the OOM killer"),
    ("memory.killed", "oom_killed", 0.55, True, r"^Killed\s*$", "the process was SIGKILLed, usually by the OOM killer"),
    ("memory.php_exhausted", "oom_killed", 0.75, True, r"Allowed memory size of \d+ bytes exhausted", "PHP reached its memory_limit"),
    ("memory.out_of_memory", "oom_killed", 0.5, True, r"(?i)\bout of memory\b", "the process ran out of memory"),
    ("memory.cannot_allocate", "oom_killed", 0.5, True, r"(?i)cannot allocate memory", "a memory allocation failed"),
)

TLS = (
    ("tls.unknown_authority", "invalid_config", 0.8, True, r"x509: certificate signed by unknown authority", "a TLS certificate is signed by an authority the process does not trust"),
    ("tls.expired", "invalid_config", 0.85, True, r"x509: certificate has expired or is not yet valid", "a TLS certificate has expired (or the clock is wrong)"),
    ("tls.wrong_name", "invalid_config", 0.85, True, r"x509: certificate is valid for .*, not <HOST>", "the TLS certificate is not valid for {host}"),
    ("tls.verify_failed", "invalid_config", 0.75, True, r"(?i)certificate verify failed|tls: failed to verify certificate|unable to get local issuer certificate|self[- ]signed certificate in certificate chain|UNABLE_TO_VERIFY_LEAF_SIGNATURE|CERT_HAS_EXPIRED|DEPTH_ZERO_SELF_SIGNED_CERT", "a TLS certificate cannot be verified"),
    ("tls.x509", "invalid_config", 0.6, True, r"\bx509: ", "a TLS certificate is rejected"),
)

NETWORK = (
    ("dns.curl", "network_error", 0.67, True, r"Could not resolve host:? <HOST>", "the host name {host} does not resolve"),
    ("dns.resolve_named", "network_error", 0.63, True, r"(?i)(?:failed to|could not|couldn't|unable to) resolve (?:host(?:name)?|address|name|DNS(?: name)?) ['\"]?<HOST>", "the host name {host} does not resolve"),
    ("dns.no_such_host", "network_error", 0.55, True, r"(?i)no such host\b", "a host name does not resolve"),
    ("dns.name_unknown", "network_error", 0.55, True, r"(?i)Name or service not known|nodename nor servname provided|No address associated with hostname", "a host name does not resolve"),
    ("dns.temporary", "network_error", 0.55, True, r"(?i)Temporary failure in name resolution", "DNS resolution failed"),
    ("dns.getaddrinfo", "network_error", 0.5, True, r"(?i)getaddrinfo (?:ENOTFOUND|EAI_AGAIN|failed)", "a host name does not resolve"),
    ("net.failed_to_connect", "dependency_unavailable", 0.59, True, r"Failed to connect to <HOST>(?::| port )<PORT>", "{host}:{port} is not reachable"),
    ("net.econnrefused", "dependency_unavailable", 0.46, True, r"\bECONNREFUSED\b", "a connection was refused: the service it needs is not listening"),
    ("net.connection_refused", "dependency_unavailable", 0.42, True, r"(?i)connection refused", "a connection was refused: the service it needs is not listening"),
    ("net.no_route", "dependency_unavailable", 0.42, True, r"(?i)no route to host|\bEHOSTUNREACH\b", "a host is unreachable (a Service without endpoints answers this way)"),
    ("net.timed_out", "dependency_unavailable", 0.38, True, r"(?i)connection timed out|connect timed out|\bETIMEDOUT\b", "a connection attempt timed out"),
    ("net.io_timeout", "dependency_unavailable", 0.34, True, r"\bi/o timeout\b", "a network operation timed out"),
    ("net.connect_to_service", "dependency_unavailable", 0.38, True, r"(?i)(?:could not|couldn't|unable to|failed to) connect to (?:the )?(?:database|db|redis|server|broker|mongo\w*|postgres\w*|mysql|kafka|rabbitmq|elasticsearch)\b", "the process cannot connect to a service it needs"),
    ("net.waiting_for", "dependency_unavailable", 0.25, False, r"(?i)waiting for (?:the )?(?:database|db|postgres\w*|mysql|redis|kafka|rabbitmq|mongo\w*)\b", "the process waits for a service it needs"),
    ("net.connection_reset", "dependency_unavailable", 0.25, False, r"(?i)\bECONNRESET\b|connection reset by peer", "a connection was reset by the other side"),
    ("net.unavailable", "dependency_unavailable", 0.29, True, r"(?i)\b(?:service|server|backend|upstream|database) (?:is )?(?:unavailable|not available|not ready)\b", "a service it needs is not available"),
)

FILES = (
    ("fs.read_only_path", "permission_denied", 0.85, True, r"['\"]?" + _IN_WORD + r"<PATH>['\"]?: (?i:read-only file system)", "{path} is on a read-only file system"),
    ("fs.read_only", "permission_denied", 0.75, True, r"(?i)read-only file system", "the process writes to a read-only file system"),
    ("fs.run_as_non_root", "permission_denied", 0.9, True, r"container has runAsNonRoot and image will run as root", "the image runs as root but the pod requires runAsNonRoot"),
    ("fs.refuse_root", "permission_denied", 0.7, True, r"(?i)can ?not run \S+ as root|running as root is not (?:allowed|supported)|must not (?:be )?run as root", "the program refuses to run as root"),
    ("rbac.forbidden", "permission_denied", 0.8, True, r"forbidden: User \"(?P<user>[^\"]+)\" cannot \w+ resource", "the ServiceAccount {user} lacks an RBAC permission the program needs"),
    ("fs.socket_missing", "file_not_found", 0.75, True, r"dial unix <PATH>: connect: no such file or directory", "the socket {path} does not exist (not mounted, or its server is not running)"),
    ("fs.permission_denied_path", "permission_denied", 0.65, True, r"['\"]?" + _IN_WORD + r"<PATH>['\"]?: (?i:permission denied)", "the process may not access {path}"),
    ("fs.not_permitted_path", "permission_denied", 0.6, True, r"['\"]?" + _IN_WORD + r"<PATH>['\"]?: (?i:operation not permitted)", "the process may not change {path}"),
    ("fs.permission_denied", "permission_denied", 0.4, True, r"(?i)permission denied", "the process lacks a permission"),
    ("fs.not_permitted", "permission_denied", 0.45, True, r"(?i)operation not permitted", "the process lacks a privilege"),
    ("fs.config_file_missing", "file_not_found", 0.75, True, r"(?i)(?:config(?:uration)? )?file ['\"]?<PATH>['\"]? (?:not found|does not exist|is missing)", "{path} does not exist"),
    ("fs.not_found_path", "file_not_found", 0.7, True, r"(?i)(?:file|directory|path) not found:? ['\"]?<PATH>", "{path} does not exist"),
    ("fs.no_such_file_path", "file_not_found", 0.6, True, r"['\"]?" + _IN_WORD + r"<PATH>['\"]?: (?i:no such file or directory)", "{path} does not exist"),
    ("fs.no_such_file_after", "file_not_found", 0.6, True, r"(?i:no such file or directory)[:,]? ['\"]?<PATH>", "{path} does not exist"),
    ("fs.no_such_file", "file_not_found", 0.35, True, r"(?i)no such file or directory", "a file or directory does not exist"),
    ("config.load_failed", "invalid_config", 0.6, True, r"(?i)(?:failed to|cannot|could not|unable to) (?:load|parse|read) (?:the )?config(?:uration)?(?: file)?", "the configuration could not be loaded"),
    ("config.invalid_value", "invalid_config", 0.45, True, r"(?i)\binvalid (?:value|setting|configuration|config)\b", "a configuration value is invalid"),
)

CRASH = (
    ("crash.cpp_terminate", "app_crash", 0.8, True, r"terminate called after throwing an instance of '(?P<exception>[^']+)'", "unhandled C++ exception {exception}"),
    ("crash.segfault", "app_crash", 0.7, True, r"(?i)segmentation fault|\bSIGSEGV\b", "the process crashed with a segmentation fault"),
    ("crash.abort", "app_crash", 0.55, True, r"(?i)\baborted \(core dumped\)|\bSIGABRT\b", "the process aborted"),
    ("crash.core_dumped", "app_crash", 0.5, True, r"(?i)\bcore dumped\b", "the process crashed and dumped core"),
    ("crash.uncaught", "app_crash", 0.6, True, r"(?i)\b(?:uncaught|unhandled) (?:exception|error|rejection)\b", "an unhandled error ended the process"),
    ("crash.exception_line", "app_crash", 0.4, True, r"(?:^|[\s\"'(\[])(?P<exception>(?:[A-Za-z_][\w$]*\.)*(?:[A-Z][\w$]*)?(?:Error|Exception))(?::\s|:$|$)", "unhandled {exception}"),
)

RETRY = (
    ("retry.failed", "dependency_unavailable", 0.21, False, r"(?i)\b(?:retrying|will retry|retry(?:ing)? in|reconnecting)\b.*\b(?:fail|refused|unavailable|timed? ?out|unreachable|error)|\b(?:fail|refused|unavailable|timed? ?out|unreachable|error)\w*\b.*\b(?:retrying|will retry|retry(?:ing)? in|reconnecting)\b", "the process retries a failing operation"),
)

ROWS = COMMAND + ENV + NODE_LEVEL + MEMORY + TLS + NETWORK + FILES + CRASH + RETRY
