//! `sipcore-proxy`: see the `sipcore_examples` crate docs and `--help`.

use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;
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
    // Installed before the sockets open: a signal during the start is handled once
    // the proxy runs, never by the default action (death without a CDR flush).
    let signals = match Signals::new([SIGTERM, SIGINT, SIGHUP]) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("sipcore-proxy: cannot install signal handlers: {e}");
            return ExitCode::from(1);
        }
    };
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
    serve(
        &running,
        signals,
        Duration::from_millis(cfg.shutdown.drain_ms),
    )
}

/// Serves until SIGTERM or SIGINT, then the orderly stop ([`server::Running::stop`]):
/// new INVITEs get 503 while in-flight requests finish (at most `drain`), every CDR
/// is written and fsynced, exit 0. SIGHUP reopens the CDR journal. `kill -9` loses
/// the CDRs still queued (see `sipcore_examples::cdr::journal`). A second signal
/// during the drain is not read (the stop goes on).
fn serve(running: &server::Running, mut signals: Signals, drain: Duration) -> ExitCode {
    for sig in signals.forever() {
        if sig == SIGHUP {
            tracing::info!("SIGHUP: reopening the CDR journal, reloading TLS certificates");
            running.reopen_cdr();
            match running.reload_tls() {
                Ok(true) => tracing::info!("TLS certificates reloaded"),
                Ok(false) => {}
                Err(e) => {
                    tracing::error!(error = %e, "TLS reload refused; the old certificates stay")
                }
            }
            continue;
        }
        tracing::info!(signal = sig, "stopping");
        break;
    }
    running.stop(drain);
    ExitCode::SUCCESS
}
