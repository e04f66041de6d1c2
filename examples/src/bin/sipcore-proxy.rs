//! `sipcore-proxy`: see the `sipcore_examples` crate docs and `--help`.

use std::process::ExitCode;

use clap::Parser;
use sipcore_examples::cli::Cli;
use sipcore_examples::server;
use tracing_subscriber::EnvFilter;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let cfg = match cli.config() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("sipcore-proxy: config error: {e}");
            return ExitCode::from(2);
        }
    };
    if cli.check_config {
        println!("configuration OK");
        return ExitCode::SUCCESS;
    }
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&cfg.log.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
    let running = match server::start(&cfg) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("sipcore-proxy: {e}");
            // A certificate refused at start is a configuration error too.
            let code = if matches!(e, server::StartError::Tls { .. }) {
                2
            } else {
                1
            };
            return ExitCode::from(code);
        }
    };
    // Serve until killed (SIGTERM/SIGINT end the process; the CDR writer fsyncs at
    // most `cdr.fsync_ms` behind).
    loop {
        std::thread::park();
        if running.endpoint.layer().config().max_transactions == 0 {
            break;
        }
    }
    running.shutdown();
    ExitCode::SUCCESS
}
