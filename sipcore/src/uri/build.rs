//! Writing a SIP URI from unescaped parts.

use crate::syntax::ParseError;

use super::escape::{encode_bytes, HNV, PARAM, PASSWORD, USER};
use super::Uri;

/// Writes a `sip:` or `sips:` URI from unescaped parts, escaping each part as its place
/// in the grammar requires.
///
/// [`write_to`](Self::write_to) appends to a buffer without checks (for a message
/// being built); [`build`](Self::build) returns the text after checking that it parses,
/// which catches an invalid host, an empty user, parameter name or header name.
///
/// ```
/// use sipcore::uri::{SipUriBuilder, Uri};
/// let s = SipUriBuilder::new("atlanta.com")
///     .user("alice smith")
///     .port(5061)
///     .param("transport", "tcp")
///     .flag("lr")
///     .header("subject", "project x")
///     .build()
///     .unwrap();
/// assert_eq!(s, "sip:alice%20smith@atlanta.com:5061;transport=tcp;lr?subject=project%20x");
/// let u = Uri::parse(s.as_bytes()).unwrap();
/// assert_eq!(u.as_sip().unwrap().user_decoded().as_deref(), Some("alice smith"));
///
/// // An IPv6 address gets its brackets.
/// assert_eq!(SipUriBuilder::new("2001:db8::10").build().unwrap(), "sip:[2001:db8::10]");
/// ```
#[derive(Debug, Clone, Default)]
pub struct SipUriBuilder<'b> {
    sips: bool,
    user: Option<&'b [u8]>,
    password: Option<&'b [u8]>,
    host: &'b str,
    port: Option<u16>,
    params: Vec<(&'b [u8], Option<&'b [u8]>)>,
    headers: Vec<(&'b [u8], &'b [u8])>,
}

impl<'b> SipUriBuilder<'b> {
    /// A `sip:` URI for `host` (a name, an IPv4 address, or an IPv6 address with or
    /// without brackets).
    pub fn new(host: &'b str) -> Self {
        SipUriBuilder {
            host,
            ..Default::default()
        }
    }

    /// Uses the `sips` scheme when `sips` is true.
    #[must_use]
    pub fn sips(mut self, sips: bool) -> Self {
        self.sips = sips;
        self
    }

    /// Sets the user (unescaped; must not be empty).
    #[must_use]
    pub fn user<T: AsRef<[u8]> + ?Sized>(mut self, user: &'b T) -> Self {
        self.user = Some(user.as_ref());
        self
    }

    /// Sets the password (unescaped); needs a user.
    #[must_use]
    pub fn password<T: AsRef<[u8]> + ?Sized>(mut self, password: &'b T) -> Self {
        self.password = Some(password.as_ref());
        self
    }

    /// Sets the port.
    #[must_use]
    pub fn port(mut self, port: u16) -> Self {
        self.port = Some(port);
        self
    }

    /// Adds a `;name=value` parameter (unescaped; neither may be empty).
    #[must_use]
    pub fn param<N, V>(mut self, name: &'b N, value: &'b V) -> Self
    where
        N: AsRef<[u8]> + ?Sized,
        V: AsRef<[u8]> + ?Sized,
    {
        self.params.push((name.as_ref(), Some(value.as_ref())));
        self
    }

    /// Adds a `;name` parameter without a value, such as `lr`.
    #[must_use]
    pub fn flag<N: AsRef<[u8]> + ?Sized>(mut self, name: &'b N) -> Self {
        self.params.push((name.as_ref(), None));
        self
    }

    /// Adds a `name=value` URI header (unescaped; the value may be empty).
    #[must_use]
    pub fn header<N, V>(mut self, name: &'b N, value: &'b V) -> Self
    where
        N: AsRef<[u8]> + ?Sized,
        V: AsRef<[u8]> + ?Sized,
    {
        self.headers.push((name.as_ref(), value.as_ref()));
        self
    }

    /// Appends the URI to `out`, without checking it.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(if self.sips { b"sips:" } else { b"sip:" });
        if let Some(user) = self.user {
            encode_bytes(out, user, USER);
            if let Some(password) = self.password {
                out.push(b':');
                encode_bytes(out, password, PASSWORD);
            }
            out.push(b'@');
        }
        if self.host.contains(':') && !self.host.starts_with('[') {
            out.push(b'[');
            out.extend_from_slice(self.host.as_bytes());
            out.push(b']');
        } else {
            out.extend_from_slice(self.host.as_bytes());
        }
        if let Some(port) = self.port {
            out.push(b':');
            out.extend_from_slice(port.to_string().as_bytes());
        }
        for (name, value) in &self.params {
            out.push(b';');
            encode_bytes(out, name, PARAM);
            if let Some(value) = value {
                out.push(b'=');
                encode_bytes(out, value, PARAM);
            }
        }
        for (k, (name, value)) in self.headers.iter().enumerate() {
            out.push(if k == 0 { b'?' } else { b'&' });
            encode_bytes(out, name, HNV);
            out.push(b'=');
            encode_bytes(out, value, HNV);
        }
    }

    /// The URI as text, checked by parsing it back; the error's offset is into the
    /// text that was written.
    pub fn build(&self) -> Result<String, ParseError> {
        let mut out = Vec::new();
        self.write_to(&mut out);
        Uri::parse(&out)?;
        String::from_utf8(out).map_err(|_| ParseError::malformed(0, "ASCII host"))
    }
}
