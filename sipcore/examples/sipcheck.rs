//! `sipcheck`: tells whether sipcore accepts captured SIP messages.
//!
//! ```text
//! cargo run --release -p sipcore --example sipcheck -- [--stream] [--max-size N] FILE...
//! ```
//!
//! Each FILE is one datagram (raw octets, as captured). For each file one line is printed:
//! `FILE: accept` or `FILE: reject <kind>: <detail>`, where `<kind>` is `malformed`
//! (answer 400), `unsupported-version` (505), `too-large` (513) or `incomplete` (400 on a
//! datagram). The exit status is 0 whatever the verdicts: 1 only if a file cannot be
//! read, 2 on a usage error.
//!
//! A message is accepted when it parses and every typed view a proxy reads parses too:
//! each Via, CSeq (with the request's method), From, To, Call-ID, Max-Forwards,
//! Content-Length, Contact, Route, Record-Route and the Request-URI.
//!
//! With `--stream` the files are fed through the TCP/TLS stream framer instead (in one
//! piece; keep-alive CRLFs allowed; Content-Length required); a file may then hold
//! several messages, all of which must pass, and nothing may be left over.

use std::process::ExitCode;

use bytes::{Bytes, BytesMut};
use sipcore::message::{HeaderId, Message, NameAddr};
use sipcore::parse::{
    parse_datagram, ParseError, ParseErrorKind, StreamFramer, StreamItem, DEFAULT_MAX_MESSAGE_SIZE,
};

/// A failed check: the error and, when it came from a header, which one.
struct Reject {
    err: ParseError,
    what: Option<&'static str>,
}

impl Reject {
    fn new(err: ParseError, what: &'static str) -> Self {
        Reject {
            err,
            what: Some(what),
        }
    }
}

impl From<ParseError> for Reject {
    fn from(err: ParseError) -> Self {
        Reject { err, what: None }
    }
}

/// Runs every typed view a proxy reads on `msg`, and the checks of RFC 3261 §8.1.1
/// and §20 that need no state: one value for single-value headers, the CSeq method of
/// a request equal to its method.
fn check_message(msg: &Message) -> Result<(), Reject> {
    for h in msg.headers() {
        if h.id.is_single() && msg.count(h.id) > 1 {
            let last = msg.headers().iter().rev().find(|x| x.id == h.id);
            let at = last.map_or(0, |x| x.name().start as usize);
            return Err(Reject::new(
                ParseError::malformed(at, "a single-value header only once"),
                h.id.name(),
            ));
        }
    }
    let mut vias = 0;
    for via in msg.vias() {
        via.map_err(|e| Reject::new(e, "Via"))?;
        vias += 1;
    }
    if vias == 0 {
        return Err(Reject::new(
            ParseError::malformed(msg.headers_end(), "Via header"),
            "Via",
        ));
    }
    let cseq = msg.cseq().map_err(|e| Reject::new(e, "CSeq"))?;
    msg.from_().map_err(|e| Reject::new(e, "From"))?;
    msg.to().map_err(|e| Reject::new(e, "To"))?;
    msg.call_id().map_err(|e| Reject::new(e, "Call-ID"))?;
    msg.max_forwards()
        .map_err(|e| Reject::new(e, "Max-Forwards"))?;
    msg.content_length()
        .map_err(|e| Reject::new(e, "Content-Length"))?;
    for (id, name) in [
        (HeaderId::Contact, "Contact"),
        (HeaderId::Route, "Route"),
        (HeaderId::RecordRoute, "Record-Route"),
    ] {
        for (off, value) in msg.values(id) {
            if id == HeaderId::Contact && value == b"*" {
                continue;
            }
            NameAddr::parse(value).map_err(|e| Reject::new(e.shifted(off), name))?;
        }
    }
    if let Some(req) = msg.as_request() {
        req.uri().map_err(|e| Reject::new(e, "Request-URI"))?;
        if cseq.method != req.method() {
            let at = msg
                .header_entry(HeaderId::CSeq)
                .map_or(0, |h| h.value().start as usize);
            return Err(Reject::new(
                ParseError::malformed(at, "CSeq method equal to the request method"),
                "CSeq",
            ));
        }
    }
    Ok(())
}

fn check_datagram(data: Vec<u8>) -> Result<(), Reject> {
    let msg = parse_datagram(Bytes::from(data))?;
    check_message(&msg)
}

fn check_stream(data: &[u8], max_size: usize) -> Result<(), Reject> {
    let mut framer = StreamFramer::new(max_size);
    let mut buf = BytesMut::from(data);
    let mut offset = 0;
    loop {
        let before = buf.len();
        let item = framer
            .next_item(&mut buf)
            .map_err(|e| Reject::from(e.shifted(offset)))?;
        match item {
            None => break,
            Some(StreamItem::Message(msg)) => {
                check_message(&msg).map_err(|r| Reject {
                    err: r.err.shifted(offset),
                    what: r.what,
                })?;
            }
            Some(StreamItem::Ping | StreamItem::Pong) => {}
        }
        offset += before - buf.len();
    }
    if buf.is_empty() {
        Ok(())
    } else {
        Err(Reject::from(ParseError::new(
            ParseErrorKind::Incomplete,
            offset,
            "a complete message",
        )))
    }
}

fn usage() -> ExitCode {
    eprintln!("usage: sipcheck [--stream] [--max-size BYTES] FILE...");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let mut stream = false;
    let mut max_size = DEFAULT_MAX_MESSAGE_SIZE;
    let mut files = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--stream" => stream = true,
            "--max-size" => match args.next().and_then(|v| v.parse().ok()) {
                Some(n) => max_size = n,
                None => return usage(),
            },
            "-h" | "--help" => return usage(),
            "--" => files.extend(args.by_ref()),
            _ => files.push(arg),
        }
    }
    if files.is_empty() {
        return usage();
    }
    let mut status = ExitCode::SUCCESS;
    for file in &files {
        let data = match std::fs::read(file) {
            Ok(d) => d,
            Err(e) => {
                eprintln!("{file}: cannot read: {e}");
                status = ExitCode::from(1);
                continue;
            }
        };
        let verdict = if stream {
            check_stream(&data, max_size)
        } else if data.len() > max_size {
            Err(Reject::from(ParseError::new(
                ParseErrorKind::TooLarge,
                max_size,
                "message within --max-size",
            )))
        } else {
            check_datagram(data)
        };
        match verdict {
            Ok(()) => println!("{file}: accept"),
            Err(Reject { err, what }) => {
                let kind = err.kind().as_str();
                let (expected, at) = (err.expected(), err.offset());
                match what {
                    Some(h) => {
                        println!("{file}: reject {kind}: {h}: expected {expected} at byte {at}")
                    }
                    None => println!("{file}: reject {kind}: expected {expected} at byte {at}"),
                }
            }
        }
    }
    status
}
