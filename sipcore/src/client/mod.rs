//! The client side of a user agent, sans-IO: answering digest challenges and keeping a
//! registration alive. (Client transactions with completion handles and a tokio driver
//! come with the endpoint core; these pieces only build requests and take responses.)

mod digest;
mod register;
#[cfg(test)]
mod tests;

pub use digest::{answer_challenge, DigestCredentials, DigestError};
pub use register::{RegisterConfig, Registration, RegistrationEvent, RegistrationState};
