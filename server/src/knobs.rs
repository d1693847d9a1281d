//! The configuration values the server and introspection commands read,
//! one function each, so that the configuration module can change shape
//! without touching the commands. Values the placeholder `Config` does not
//! hold yet return Redis's defaults.

use crate::config::Config;

/// slowlog-log-slower-than, in microseconds (negative disables).
pub fn slowlog_log_slower_than(_c: &Config) -> i64 {
    10_000
}

/// slowlog-max-len.
pub fn slowlog_max_len(_c: &Config) -> usize {
    128
}

/// latency-monitor-threshold, in milliseconds (0 disables).
pub fn latency_monitor_threshold(_c: &Config) -> u64 {
    0
}

/// enable-debug-command: `yes`, `local` or `no`.
pub fn enable_debug_command(c: &Config) -> &str {
    &c.enable_debug_command
}

/// requirepass (empty: none).
pub fn requirepass(c: &Config) -> &str {
    &c.requirepass
}

/// hz.
pub fn hz(c: &Config) -> u32 {
    c.hz
}

/// maxclients.
pub fn maxclients(c: &Config) -> usize {
    c.maxclients
}

/// maxmemory, in bytes (0: no limit).
pub fn maxmemory(_c: &Config) -> u64 {
    0
}

/// maxmemory-policy.
pub fn maxmemory_policy(_c: &Config) -> &str {
    "noeviction"
}

/// The configuration file's absolute path (empty: none).
pub fn config_file(_c: &Config) -> &str {
    ""
}

/// The bind addresses, as configured.
pub fn bind(c: &Config) -> &[String] {
    &c.bind
}
