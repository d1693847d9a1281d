//! The configuration values the introspection commands read, one function
//! each, in the shapes those commands print.

use crate::config::{Config, ProtectedAction};

/// slowlog-log-slower-than, in microseconds (negative disables).
pub fn slowlog_log_slower_than(c: &Config) -> i64 {
    c.slowlog_log_slower_than()
}

/// slowlog-max-len.
pub fn slowlog_max_len(c: &Config) -> usize {
    c.slowlog_max_len() as usize
}

/// latency-monitor-threshold, in milliseconds (0 disables).
pub fn latency_monitor_threshold(c: &Config) -> u64 {
    c.latency_monitor_threshold_ms()
}

/// enable-debug-command: `yes`, `local` or `no`.
pub fn enable_debug_command(c: &Config) -> &'static str {
    match c.enable_debug_command() {
        ProtectedAction::Yes => "yes",
        ProtectedAction::Local => "local",
        ProtectedAction::No => "no",
    }
}

/// requirepass (empty: none).
pub fn requirepass(c: &Config) -> Vec<u8> {
    c.requirepass().map(|p| p.to_vec()).unwrap_or_default()
}

/// hz.
pub fn hz(c: &Config) -> u32 {
    c.hz()
}

/// maxclients.
pub fn maxclients(c: &Config) -> usize {
    c.maxclients() as usize
}

/// maxmemory, in bytes (0: no limit).
pub fn maxmemory(c: &Config) -> u64 {
    c.maxmemory()
}

/// maxmemory-policy.
pub fn maxmemory_policy(c: &Config) -> String {
    c.maxmemory_policy_name()
}

/// The configuration file's absolute path (empty: none).
pub fn config_file(c: &Config) -> String {
    c.config_file()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

/// The bind addresses, as configured.
pub fn bind(c: &Config) -> Vec<String> {
    c.bind()
        .into_iter()
        .map(|b| {
            if b.optional {
                format!("-{}", b.addr)
            } else {
                b.addr
            }
        })
        .collect()
}
