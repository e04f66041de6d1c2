//! A registration client (RFC 3261 §10.2), sans-IO: REGISTER, digest answered once per
//! challenge, 423 Interval Too Brief followed, refresh before expiry, unregister; with
//! `+sip.instance` and `reg-id` for RFC 5626 outbound when asked.
//!
//! The driver asks [`Registration::poll`] at or after [`Registration::deadline`] for
//! the next REGISTER to send (in a client transaction), and feeds the final response
//! to [`Registration::on_response`]. Time comes in as `now`; nothing here sleeps or
//! sends.
//!
//! ```
//! use std::time::{Duration, Instant};
//! use sipcore::client::{RegisterConfig, RegistrationState, Registration};
//!
//! let cfg = RegisterConfig::new("sip:example.com", "sip:alice@example.com", "sip:alice@192.0.2.1:5062");
//! let t0 = Instant::now();
//! let mut reg = Registration::new(cfg, "call-1@192.0.2.1", "ftag1", t0);
//! let register = reg.poll(t0, "SIP/2.0/UDP 192.0.2.1:5062;branch=z9hG4bKr1").expect("a REGISTER now");
//! assert!(register.starts_with(b"REGISTER sip:example.com SIP/2.0\r\n"));
//! assert_eq!(reg.state(), RegistrationState::Registering);
//! # let _ = Duration::ZERO;
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::message::{Method, RequestBuilder, Response};

use super::digest::{answer_challenge, DigestCredentials};

/// What to register.
#[derive(Debug, Clone)]
pub struct RegisterConfig {
    /// The registrar's URI (the Request-URI), `sip:example.com`.
    pub registrar: String,
    /// The address of record (From and To), `sip:alice@example.com`.
    pub aor: String,
    /// The contact URI to bind.
    pub contact: String,
    /// Expiry asked for, in seconds. Default 3600.
    pub expires: u32,
    /// Digest credentials for 401/407 challenges.
    pub credentials: Option<DigestCredentials>,
    /// RFC 5626: `+sip.instance` (a URN, e.g. `urn:uuid:...`) and `reg-id` on the
    /// Contact.
    pub outbound: Option<(String, u32)>,
    /// Refresh when this fraction of the granted time has passed. Default 0.8 (and at
    /// least 5 s before expiry).
    pub refresh_at: f64,
    /// After a failure, try again after this long. Default 60 s.
    pub retry_after_failure: Duration,
}

impl RegisterConfig {
    /// Registering `contact` for `aor` at `registrar`, defaults otherwise.
    pub fn new(registrar: &str, aor: &str, contact: &str) -> RegisterConfig {
        RegisterConfig {
            registrar: registrar.to_string(),
            aor: aor.to_string(),
            contact: contact.to_string(),
            expires: 3600,
            credentials: None,
            outbound: None,
            refresh_at: 0.8,
            retry_after_failure: Duration::from_secs(60),
        }
    }
}

/// Where a registration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationState {
    /// Nothing sent yet, or unregistered.
    Idle,
    /// A REGISTER is out.
    Registering,
    /// Bound until the instant.
    Registered(Instant),
    /// The last attempt failed with this status (retried after a while).
    Failed(u16),
    /// An unregistering REGISTER (`Expires: 0`) is out.
    Unregistering,
}

/// What a final response did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegistrationEvent {
    /// Registered for this many seconds.
    Registered(u32),
    /// Send again at once (a challenge answered, or a 423's Min-Expires taken).
    Retry,
    /// Failed with this status.
    Failed(u16),
    /// Unregistered.
    Unregistered,
}

/// One registration's state machine.
#[derive(Debug, Clone)]
pub struct Registration {
    cfg: RegisterConfig,
    call_id: String,
    from_tag: String,
    cseq: u32,
    state: RegistrationState,
    expires: u32,
    /// When the next REGISTER is due (`None`: nothing to send).
    due: Option<Instant>,
    /// The credentials for the next REGISTER (`Authorization` or `Proxy-Authorization`
    /// with its value).
    auth: Option<(&'static str, String)>,
    /// Challenges answered in a row (a second one for the same request is a failure).
    challenged: u8,
    nc: u32,
    unregister: bool,
}

impl Registration {
    /// A registration with its own Call-ID and From tag (kept for every REGISTER, RFC
    /// 3261 §10.2.4: make them unique and unpredictable, e.g. from
    /// `TransactionLayer::new_call_id` and `new_tag`).
    /// The first REGISTER is due at `now`.
    pub fn new(cfg: RegisterConfig, call_id: &str, from_tag: &str, now: Instant) -> Registration {
        Registration {
            expires: cfg.expires,
            cfg,
            call_id: call_id.to_string(),
            from_tag: from_tag.to_string(),
            cseq: 0,
            state: RegistrationState::Idle,
            due: Some(now),
            auth: None,
            challenged: 0,
            nc: 0,
            unregister: false,
        }
    }

    /// Where it is.
    pub fn state(&self) -> RegistrationState {
        self.state
    }

    /// When [`poll`](Self::poll) has something to send (`None`: nothing until a
    /// response comes).
    pub fn deadline(&self) -> Option<Instant> {
        self.due
    }

    /// The REGISTER to send now, if one is due, with `via` as its Via value (the
    /// driver writes the transport, sent-by and a new branch).
    pub fn poll(&mut self, now: Instant, via: &str) -> Option<Bytes> {
        let due = self.due?;
        if due
            .checked_duration_since(now)
            .is_some_and(|d| !d.is_zero())
        {
            return None;
        }
        self.due = None;
        self.state = if self.unregister {
            RegistrationState::Unregistering
        } else {
            RegistrationState::Registering
        };
        Some(self.build(via))
    }

    /// Asks to remove the binding: the next [`poll`](Self::poll) sends `Expires: 0`.
    pub fn unregister(&mut self, now: Instant) {
        self.unregister = true;
        self.due = Some(now);
    }

    fn build(&mut self, via: &str) -> Bytes {
        self.cseq += 1;
        let from = format!("<{}>;tag={}", self.cfg.aor, self.from_tag);
        let to = format!("<{}>", self.cfg.aor);
        let contact = match &self.cfg.outbound {
            Some((instance, reg_id)) => {
                format!(
                    "<{}>;+sip.instance=\"<{instance}>\";reg-id={reg_id}",
                    self.cfg.contact
                )
            }
            None => format!("<{}>", self.cfg.contact),
        };
        let expires = if self.unregister { 0 } else { self.expires }.to_string();
        let mut b = RequestBuilder::new(Method::Register, self.cfg.registrar.as_str())
            .via(via)
            .from(from.as_str())
            .to(to.as_str())
            .call_id(self.call_id.as_str())
            .cseq(self.cseq)
            .contact(contact.as_str())
            .header("Expires", expires.as_str());
        if let Some((name, value)) = &self.auth {
            b = b.header(*name, value.as_str());
        }
        if self.cfg.outbound.is_some() {
            b = b.header("Supported", "outbound, path");
        }
        b.build()
    }

    /// The final response to the last REGISTER, at `now`.
    pub fn on_response(&mut self, resp: &Response, now: Instant) -> RegistrationEvent {
        let status = resp.status().as_u16();
        match status {
            200..=299 => {
                self.challenged = 0;
                if self.unregister {
                    self.state = RegistrationState::Idle;
                    self.due = None;
                    return RegistrationEvent::Unregistered;
                }
                let granted = self.granted(resp).unwrap_or(self.expires);
                let until = now + Duration::from_secs(u64::from(granted));
                self.state = RegistrationState::Registered(until);
                let after = (f64::from(granted) * self.cfg.refresh_at) as u64;
                let after = after.min(u64::from(granted).saturating_sub(5)).max(1);
                self.due = Some(now + Duration::from_secs(after));
                RegistrationEvent::Registered(granted)
            }
            401 | 407 if self.challenged == 0 => match self.answer(resp, status == 407) {
                Some(auth) => {
                    self.auth = Some(auth);
                    self.challenged = 1;
                    self.due = Some(now);
                    RegistrationEvent::Retry
                }
                None => self.fail(status, now),
            },
            423 => match resp.min_expires().ok().flatten() {
                Some(min) if min > self.expires => {
                    self.expires = min;
                    self.due = Some(now);
                    RegistrationEvent::Retry
                }
                _ => self.fail(status, now),
            },
            _ => self.fail(status, now),
        }
    }

    fn fail(&mut self, status: u16, now: Instant) -> RegistrationEvent {
        self.challenged = 0;
        self.state = RegistrationState::Failed(status);
        self.due = (!self.unregister).then(|| now + self.cfg.retry_after_failure);
        RegistrationEvent::Failed(status)
    }

    /// The expiry the registrar granted our contact (its `expires` parameter in the
    /// 200's Contact list, else the Expires header).
    fn granted(&self, resp: &Response) -> Option<u32> {
        if let Ok(crate::message::Contacts::List(list)) = resp.contacts() {
            for c in list.flatten() {
                if c.uri_bytes()
                    .eq_ignore_ascii_case(self.cfg.contact.as_bytes())
                {
                    if let Some(e) = c.expires() {
                        return Some(e);
                    }
                }
            }
        }
        resp.expires().ok().flatten()
    }

    fn answer(&mut self, resp: &Response, proxy: bool) -> Option<(&'static str, String)> {
        let creds = self.cfg.credentials.as_ref()?;
        let challenges: Vec<_> = if proxy {
            resp.proxy_authenticate().flatten().collect()
        } else {
            resp.www_authenticate().flatten().collect()
        };
        self.nc += 1;
        let cnonce = format!("{:08x}{:08x}", self.cseq, self.nc ^ 0x5a5a_5a5a);
        // The first challenge we can answer (servers list the preferred one first).
        let value = challenges.iter().find_map(|ch| {
            answer_challenge(ch, creds, "REGISTER", &self.cfg.registrar, &cnonce, 1).ok()
        })?;
        Some((
            if proxy {
                "Proxy-Authorization"
            } else {
                "Authorization"
            },
            value,
        ))
    }
}
