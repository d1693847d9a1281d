//! Placeholder configuration until the full module lands.
#[derive(Clone, Debug)]
pub struct Config {
    pub port: u16,
    pub bind: Vec<String>,
    pub shards: usize,
    pub databases: usize,
    pub requirepass: String,
    pub proto_max_bulk_len: u64,
    pub hz: u32,
    pub timeout: u64,
    pub maxclients: usize,
    pub enable_debug_command: String,
    pub client_query_buffer_limit: u64,
    pub active_expire_effort: u32,
    pub loglevel: String,
    pub logfile: String,
    pub dir: String,
}
#[derive(Debug)]
pub struct StartupError(pub String);
impl std::fmt::Display for StartupError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl Config {
    pub fn from_command_line(args: &[String]) -> Result<Config, StartupError> {
        let mut c = Config {
            port: 6379,
            bind: vec!["127.0.0.1".into(), "-::1".into()],
            shards: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            databases: 16,
            requirepass: String::new(),
            proto_max_bulk_len: 512 << 20,
            hz: 10,
            timeout: 0,
            maxclients: 10000,
            enable_debug_command: "no".into(),
            client_query_buffer_limit: 1 << 30,
            active_expire_effort: 1,
            loglevel: "notice".into(),
            logfile: String::new(),
            dir: std::env::current_dir()
                .map(|d| d.display().to_string())
                .unwrap_or_default(),
        };
        let mut i = 0;
        while i < args.len() {
            let a = args[i].trim_start_matches("--").to_string();
            let v = args.get(i + 1).cloned().unwrap_or_default();
            match a.as_str() {
                "port" => c.port = v.parse().map_err(|_| StartupError("bad port".into()))?,
                "shards" => c.shards = v.parse().map_err(|_| StartupError("bad shards".into()))?,
                "requirepass" => c.requirepass = v,
                "enable-debug-command" => c.enable_debug_command = v,
                "bind" => c.bind = v.split(' ').map(String::from).collect(),
                _ => {}
            }
            i += 2;
        }
        Ok(c)
    }
}
