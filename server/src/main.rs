//! `magpie-server [config-file] [--name value ...]`, like `redis-server`.

use tikv_jemallocator::Jemalloc;

#[global_allocator]
static GLOBAL: Jemalloc = Jemalloc;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match magpie::config::Config::from_command_line(&args) {
        Ok(c) => c,
        Err(e) => {
            e.print();
            std::process::exit(e.exit_code());
        }
    };
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("MAGPIE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    if let Err(e) = magpie::server::run(config) {
        eprintln!("{e:#}");
        std::process::exit(1);
    }
    std::process::exit(0);
}
