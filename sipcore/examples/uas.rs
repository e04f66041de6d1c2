//! A tiny UAS on the sipcore endpoint: answers OPTIONS 200, INVITE 100/180/200, BYE 200,
//! CANCEL 200 + 487, anything else 501.
//!
//! ```sh
//! cargo run --release -p sipcore --example uas -- --listen 127.0.0.1:5070 --pool shared --workers 2
//! ```
//!
//! Flags: `--listen ADDR` (default 127.0.0.1:5070), `--pool shared|reuseport|dispatcher|inline`
//! (default shared), `--workers N` (default: hardware threads), `--seconds N` (exit after
//! N seconds; default: run until killed). On exit it prints the counters and `ps`.
//!
//! It is deliberately small: a real UAS core would also retransmit its 2xx until the
//! ACK arrives (RFC 3261 §13.3.1.4); over loopback nothing is lost.

// An application, not the sans-IO core: it may read the clock.
#![allow(clippy::disallowed_methods)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use sipcore::endpoint::{Context, Endpoint, EndpointConfig, Handler};
use sipcore::message::{response_to, Method, Request, StatusCode};
use sipcore::pool::{
    default_workers, DispatcherPool, InlinePool, ReceiverPool, ReusePortPool, SharedSocketPool,
    DEFAULT_QUEUE,
};
use sipcore::transaction::{stateless, TransactionId};
use sipcore::transport::udp::UdpConfig;
use sipcore::transport::{Target, Transport};

struct Uas {
    /// `<sip:uas@ADDR>` with the bound address, set once the socket is bound.
    contact: std::sync::OnceLock<String>,
    /// INVITEs waiting for their 200, so a CANCEL can answer them 487.
    pending: Mutex<HashMap<TransactionId, Request>>,
}

impl Handler for Uas {
    fn on_request(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        req: Request,
        _source: Target,
        merged: bool,
    ) {
        let tag_token = ctx.new_tag();
        let tag = Some(tag_token.as_str());
        if merged {
            let _ = ctx.reply(id, &req, StatusCode::LOOP_DETECTED, tag);
            return;
        }
        match req.method() {
            Method::Invite => {
                let _ = ctx.reply(id, &req, StatusCode::TRYING, None);
                let _ = ctx.reply(id, &req, StatusCode::RINGING, tag);
                let ok = response_to(&req, StatusCode::OK)
                    .to_tag(tag_token.as_str())
                    .header(
                        "Contact",
                        self.contact
                            .get()
                            .map_or("<sip:uas@127.0.0.1>", |c| c.as_str()),
                    )
                    .build();
                if let Ok(ok) = stateless::parse_response(ok) {
                    let _ = ctx.respond(id, ok);
                }
            }
            Method::Options | Method::Bye | Method::Register => {
                let _ = ctx.reply(id, &req, StatusCode::OK, tag);
            }
            _ => {
                let _ = ctx.reply(id, &req, StatusCode::NOT_IMPLEMENTED, tag);
            }
        }
        self.pending.lock().remove(&id);
    }

    fn on_cancel(
        &self,
        ctx: &mut Context<'_>,
        id: TransactionId,
        cancel: Request,
        _source: Target,
        invite: Option<TransactionId>,
    ) {
        let status = match invite {
            Some(_) => StatusCode::OK,
            None => StatusCode::CALL_TRANSACTION_DOES_NOT_EXIST,
        };
        let _ = ctx.reply(id, &cancel, status, None);
        if let Some(inv) = invite.and_then(|i| self.pending.lock().remove(&i).map(|r| (i, r))) {
            let tag = ctx.new_tag();
            let _ = ctx.reply(
                inv.0,
                &inv.1,
                StatusCode::REQUEST_TERMINATED,
                Some(tag.as_str()),
            );
        }
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    run(std::env::args().skip(1).collect())
}

/// Runs the UAS with command-line style arguments.
pub fn run(argv: Vec<String>) -> Result<(), Box<dyn std::error::Error>> {
    run_until(argv, &|_| {}, &AtomicBool::new(false))
}

/// [`run`] for a caller in the same process (the test suite): `ready` gets the bound
/// address (`--listen 127.0.0.1:0` lets the kernel pick the port) once the UAS serves;
/// it stops when `stop` is set (or after `--seconds`).
pub fn run_until(
    argv: Vec<String>,
    ready: &dyn Fn(std::net::SocketAddr),
    stop: &AtomicBool,
) -> Result<(), Box<dyn std::error::Error>> {
    let mut listen = "127.0.0.1:5070".to_string();
    let mut strategy = "shared".to_string();
    let mut workers = default_workers();
    let mut seconds: Option<u64> = None;
    let mut args = argv.into_iter();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--listen" => listen = value()?,
            "--pool" => strategy = value()?,
            "--workers" => workers = value()?.parse()?,
            "--seconds" => seconds = Some(value()?.parse()?),
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let mut udp = UdpConfig::new(listen.parse()?);
    udp.recv_buffer = Some(4 << 20);
    let handler = Arc::new(Uas {
        contact: std::sync::OnceLock::new(),
        pending: Mutex::new(HashMap::new()),
    });
    let mut config = EndpointConfig::default();
    let builder = |pool: Box<dyn ReceiverPool>, config: EndpointConfig| {
        Endpoint::builder(config)
            .udp_pool(pool)
            .start(handler.clone())
    };
    let deadline = seconds.map(|s| std::time::Instant::now() + Duration::from_secs(s));
    let running =
        || !stop.load(Ordering::Acquire) && deadline.is_none_or(|d| std::time::Instant::now() < d);
    let endpoint = match strategy.as_str() {
        "inline" => {
            config.timer_thread = false;
            let mut pool = InlinePool::bind(&udp)?;
            let endpoint = Endpoint::builder(config)
                .udp_transport(pool.transport())
                .start(handler.clone())?;
            // The inline pool hands datagrams to the endpoint on this thread.
            pool.start(endpoint.datagram_handler())?;
            let bound = pool.transport().local_addr();
            let _ = handler.contact.set(format!("<sip:uas@{bound}>"));
            ready(bound);
            while running() {
                pool.poll(Duration::from_millis(10), 256)?;
                endpoint.handle_timeout();
            }
            println!("ps: {:?}", pool.ps());
            endpoint
        }
        s => {
            let pool: Box<dyn ReceiverPool> = match s {
                "shared" => Box::new(SharedSocketPool::bind(&udp, workers)?),
                "reuseport" => Box::new(ReusePortPool::bind(&udp, workers)?),
                "dispatcher" => Box::new(DispatcherPool::bind(&udp, workers, DEFAULT_QUEUE)?),
                other => return Err(format!("unknown pool {other}").into()),
            };
            let bound = pool.transport().local_addr();
            let _ = handler.contact.set(format!("<sip:uas@{bound}>"));
            let endpoint = builder(pool, config)?;
            ready(bound);
            while running() {
                std::thread::sleep(Duration::from_millis(100));
            }
            println!("ps: {:?}", endpoint.ps());
            endpoint
        }
    };
    println!("counters: {:?}", endpoint.counters());
    endpoint.shutdown();
    Ok(())
}
