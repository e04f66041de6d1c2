//! Semantic checks a proxy or UAS runs on a message that parsed: required headers present
//! and well-formed, single-value headers single, CSeq method matching the request,
//! Request-URI scheme known, Max-Forwards not exhausted, required extensions supported.
//!
//! Parsing only builds the header index, so a message with, say, no Call-ID parses fine;
//! [`Request::validate`] reports it with the status code to answer.

use super::{HeaderId, MessageBuf, Method, Request, Response, StatusCode};
use crate::syntax::ParseError;

/// URI schemes [`Request::validate`] accepts in the Request-URI (case-insensitive).
pub const KNOWN_URI_SCHEMES: [&str; 3] = ["sip", "sips", "tel"];

/// Why a message that parsed is not acceptable, with what the answer needs.
/// [`status_code`](Self::status_code) gives the response to send.
///
/// ```
/// use sipcore::message::{ElementRole, HeaderId, Message, StatusCode, ValidationError};
/// let msg = Message::parse(bytes::Bytes::from_static(
///     b"INVITE sip:bob@example.com SIP/2.0\r\n\
///       Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bK1\r\n\
///       Max-Forwards: 70\r\n\
///       From: <sip:alice@example.com>;tag=1\r\n\
///       To: <sip:bob@example.com>\r\n\
///       Call-ID: a1\r\n\
///       CSeq: 1 INVITE\r\n\
///       Require: 100rel, foo\r\n\r\n",
/// )).unwrap();
/// let req = msg.as_request().unwrap();
/// // A proxy looks at Proxy-Require only.
/// assert_eq!(req.validate(&[]), Ok(()));
/// // The UAS must understand every Require tag.
/// let err = req.validate_as(ElementRole::Uas, &["100rel"]).unwrap_err();
/// assert_eq!(err.status_code(), StatusCode::BAD_EXTENSION);
/// assert_eq!(
///     err,
///     ValidationError::BadExtension { header: HeaderId::Require, unsupported: vec!["foo".into()] }
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValidationError {
    /// A mandatory header (Via, From, To, Call-ID, CSeq; Content-Type for a UAS when
    /// there is a body) is absent. 400.
    #[error("missing {0} header")]
    MissingHeader(HeaderId),
    /// A proxy received Max-Forwards: 0. 483 (or, for OPTIONS, the proxy may answer
    /// itself, RFC 3261 §16.3).
    #[error("Max-Forwards is 0")]
    TooManyHops,
    /// A single-value header appears more than once or holds a comma list. 400.
    #[error("more than one {0} value")]
    MultipleValues(HeaderId),
    /// Several Content-Length headers with different values. 400.
    #[error("Content-Length values disagree")]
    ConflictingContentLength,
    /// The Request-URI scheme is not in [`KNOWN_URI_SCHEMES`]. 416.
    #[error("unsupported Request-URI scheme")]
    UnsupportedUriScheme,
    /// Option tags of `header` (Proxy-Require at a proxy, Require at a UAS) that are not
    /// supported. 420, with `unsupported` listed in an Unsupported header.
    #[error("unsupported extension(s) in {header}: {}", .unsupported.join(", "))]
    BadExtension {
        /// `Proxy-Require` or `Require`.
        header: HeaderId,
        /// The option tags not supported, in order of appearance, without duplicates,
        /// at most [`MAX_REPORTED_TAGS`].
        unsupported: Vec<String>,
    },
    /// The CSeq method differs from the request method (RFC 3261 §8.1.1.5). 400.
    #[error("CSeq method differs from the request method")]
    CSeqMethodMismatch,
    /// A header the check needs is malformed (or the Request-URI is). 400.
    #[error("{0}")]
    Malformed(#[from] ParseError),
}

impl ValidationError {
    /// The status code to answer with.
    pub fn status_code(&self) -> StatusCode {
        match self {
            ValidationError::TooManyHops => StatusCode::TOO_MANY_HOPS,
            ValidationError::UnsupportedUriScheme => StatusCode::UNSUPPORTED_URI_SCHEME,
            ValidationError::BadExtension { .. } => StatusCode::BAD_EXTENSION,
            ValidationError::Malformed(e) => e
                .kind()
                .status_code()
                .and_then(StatusCode::new)
                .unwrap_or(StatusCode::BAD_REQUEST),
            ValidationError::MissingHeader(_)
            | ValidationError::MultipleValues(_)
            | ValidationError::ConflictingContentLength
            | ValidationError::CSeqMethodMismatch => StatusCode::BAD_REQUEST,
        }
    }
}

/// Which element checks a request: it decides which extension header counts and whether
/// Max-Forwards and Route matter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ElementRole {
    /// A proxy (RFC 3261 §16.3): checks Max-Forwards, Route and Proxy-Require.
    Proxy,
    /// A UAS, registrar or redirect server (RFC 3261 §8.2): checks Require, and
    /// Content-Type when there is a body.
    Uas,
}

/// Headers every request and response carries (RFC 3261 §8.1.1).
const REQUIRED: [HeaderId; 5] = [
    HeaderId::Via,
    HeaderId::From,
    HeaderId::To,
    HeaderId::CallId,
    HeaderId::CSeq,
];

impl Request {
    /// Checks the request as a proxy would ([`ElementRole::Proxy`]); `supported` are the
    /// option tags this element understands (compared case-insensitively).
    ///
    /// The CSeq method is checked against the request method here, not in the parser.
    /// Allocation-free unless it fails with [`ValidationError::BadExtension`].
    pub fn validate(&self, supported: &[&str]) -> Result<(), ValidationError> {
        self.validate_as(ElementRole::Proxy, supported)
    }

    /// Checks the request as `role`; see [`ValidationError`] for what is checked, in
    /// this order: required headers present and single, their views well-formed (all
    /// Via values, From, To, Call-ID, CSeq, Max-Forwards, Content-Length; Route for a
    /// proxy), the CSeq method, the Request-URI scheme, Max-Forwards (proxy), the
    /// extensions (Proxy-Require for a proxy, Require for a UAS; neither for ACK and
    /// CANCEL, RFC 3261 §8.2.2.3), Content-Type (UAS).
    pub fn validate_as(
        &self,
        role: ElementRole,
        supported: &[&str],
    ) -> Result<(), ValidationError> {
        let max_forwards = check_common(self)?;
        if role == ElementRole::Proxy {
            if let Some(Err(e)) = self.routes().find(Result::is_err) {
                return Err(ValidationError::Malformed(e));
            }
        }
        let method = self.method();
        if self.cseq()?.method != method {
            return Err(ValidationError::CSeqMethodMismatch);
        }
        let uri = self.uri()?;
        if !KNOWN_URI_SCHEMES
            .iter()
            .any(|s| s.eq_ignore_ascii_case(uri.scheme_str()))
        {
            return Err(ValidationError::UnsupportedUriScheme);
        }
        // RFC 3261 §19.1.5: a Request-URI carries no headers (RFC 4475 §3.1.2.13).
        if let Some(sip) = uri.as_sip() {
            if !sip.headers_raw().is_empty() {
                let at = self
                    .uri_bytes()
                    .iter()
                    .position(|&b| b == b'?')
                    .unwrap_or(0);
                return Err(ValidationError::Malformed(ParseError::malformed(
                    self.uri_span().start as usize + at,
                    "Request-URI without headers",
                )));
            }
        }
        if role == ElementRole::Proxy && max_forwards == Some(0) {
            return Err(ValidationError::TooManyHops);
        }
        if !matches!(method, Method::Ack | Method::Cancel) {
            let header = match role {
                ElementRole::Proxy => HeaderId::ProxyRequire,
                ElementRole::Uas => HeaderId::Require,
            };
            check_extensions(self, header, supported)?;
        }
        if role == ElementRole::Uas {
            match self.content_type()? {
                None if !self.body().is_empty() => {
                    return Err(ValidationError::MissingHeader(HeaderId::ContentType))
                }
                _ => {}
            }
        }
        Ok(())
    }
}

impl Response {
    /// Checks what a client or proxy needs of a response: Via, From, To, Call-ID, CSeq
    /// present, single and well-formed, Content-Length single and well-formed.
    pub fn validate(&self) -> Result<(), ValidationError> {
        check_common(self).map(|_| ())
    }
}

/// The checks requests and responses share; returns Max-Forwards.
fn check_common(msg: &MessageBuf) -> Result<Option<u8>, ValidationError> {
    let mut seen = [0u64; 4];
    let mut content_length: Option<&super::Header> = None;
    for h in msg.headers() {
        let k = h.id as u8 as usize;
        let (word, bit) = ((k >> 6) & 3, 1u64 << (k & 63));
        let dup = seen[word] & bit != 0;
        seen[word] |= bit;
        if h.id == HeaderId::ContentLength {
            match content_length {
                None => content_length = Some(h),
                Some(first) => return Err(content_length_conflict(msg, first, h)),
            }
        } else if dup && h.id.is_single() {
            return Err(ValidationError::MultipleValues(h.id));
        }
    }
    for id in REQUIRED {
        let k = id as u8 as usize;
        if seen[(k >> 6) & 3] & (1u64 << (k & 63)) == 0 {
            return Err(ValidationError::MissingHeader(id));
        }
    }
    if let Some(Err(e)) = msg.vias().find(Result::is_err) {
        return Err(ValidationError::Malformed(e));
    }
    single(msg, HeaderId::From, msg.from_())?;
    single(msg, HeaderId::To, msg.to())?;
    single(msg, HeaderId::CallId, msg.call_id())?;
    single(msg, HeaderId::CSeq, msg.cseq())?;
    single(msg, HeaderId::ContentLength, msg.content_length())?;
    single(msg, HeaderId::MaxForwards, msg.max_forwards())
}

/// A single-value header's view result; a failure on a comma list is reported as
/// [`ValidationError::MultipleValues`].
fn single<T>(
    msg: &MessageBuf,
    id: HeaderId,
    r: Result<T, ParseError>,
) -> Result<T, ValidationError> {
    r.map_err(|e| {
        if msg.values(id).nth(1).is_some() {
            ValidationError::MultipleValues(id)
        } else {
            ValidationError::Malformed(e)
        }
    })
}

fn content_length_conflict(
    msg: &MessageBuf,
    first: &super::Header,
    second: &super::Header,
) -> ValidationError {
    let value = |h: &super::Header| {
        super::parse_decimal(msg.slice(h.value()), u64::from(u32::MAX))
            .map_err(|e| e.shifted(h.value().start as usize))
    };
    match (value(first), value(second)) {
        (Err(e), _) | (_, Err(e)) => ValidationError::Malformed(e),
        (Ok(a), Ok(b)) if a != b => ValidationError::ConflictingContentLength,
        _ => ValidationError::MultipleValues(HeaderId::ContentLength),
    }
}

/// At most this many distinct unsupported option tags are reported (bounds the work and
/// the allocation for a hostile request).
pub const MAX_REPORTED_TAGS: usize = 32;

/// Fails with the option tags of `header` missing from `supported`. Allocates only when
/// there is something to report.
fn check_extensions(
    msg: &MessageBuf,
    header: HeaderId,
    supported: &[&str],
) -> Result<(), ValidationError> {
    let tags = super::OptionTags::of(msg, header);
    let is_supported = |t: &str| supported.iter().any(|s| s.eq_ignore_ascii_case(t));
    let mut any = false;
    for t in tags.clone() {
        any |= !is_supported(t?);
    }
    if !any {
        return Ok(());
    }
    let mut unsupported: Vec<String> = Vec::new();
    for t in tags.flatten() {
        if unsupported.len() == MAX_REPORTED_TAGS {
            break;
        }
        if !is_supported(t) && !unsupported.iter().any(|u| u.eq_ignore_ascii_case(t)) {
            unsupported.push(t.to_owned());
        }
    }
    Err(ValidationError::BadExtension {
        header,
        unsupported,
    })
}

#[cfg(test)]
#[path = "validate_tests.rs"]
mod tests;
