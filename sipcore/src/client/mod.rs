//! The client side of a user agent: answering digest challenges and keeping a
//! registration alive (sans-IO), and requests with completion handles on the threaded
//! endpoint ([`Requests`]). A tokio driver comes with the sans-IO endpoint core.

mod digest;
mod register;
mod requests;
#[cfg(test)]
mod tests;

pub use digest::{answer_challenge, DigestCredentials, DigestError};
pub use register::{RegisterConfig, Registration, RegistrationEvent, RegistrationState};
pub use requests::{Blocklist, ClientError, ClientEvent, MakeRequest, Requests, ResponseHandle};
