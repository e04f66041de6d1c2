//! `sipcore-b2bua`: the example back-to-back user agent (`sipcore_examples::b2bua`) on a
//! UDP listen address, placing every call it receives again to `--to`.

use std::net::SocketAddr;
use std::sync::Arc;

use clap::Parser;
use sipcore::endpoint::{Endpoint, EndpointConfig};
use sipcore::pool::{ReceiverPool, ReusePortPool};
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::Transport;
use sipcore_examples::b2bua::B2bua;

/// A minimal B2BUA: leg A in, leg B out to `--to`, hang-up propagated.
#[derive(Debug, Parser)]
#[command(name = "sipcore-b2bua", version)]
struct Cli {
    /// UDP address to listen on.
    #[arg(long, default_value = "127.0.0.1:5062")]
    listen: SocketAddr,
    /// Where leg B goes (IP:PORT).
    #[arg(long)]
    to: SocketAddr,
    /// Run for this many seconds (0: until killed).
    #[arg(long, default_value_t = 0)]
    seconds: u64,
}

fn main() -> std::io::Result<()> {
    let cli = Cli::parse();
    let pool = ReusePortPool::bind(&UdpConfig::new(cli.listen), 2)?;
    let local = pool.transport().local_addr();
    let endpoint = Endpoint::builder(EndpointConfig::default())
        .udp_pool(Box::new(pool))
        .start(Arc::new(B2bua::new(local, cli.to)))?;
    println!("sipcore-b2bua listening on {local}, calling {}", cli.to);
    if cli.seconds > 0 {
        std::thread::sleep(std::time::Duration::from_secs(cli.seconds));
    } else {
        loop {
            std::thread::park();
        }
    }
    endpoint.shutdown();
    Ok(())
}
