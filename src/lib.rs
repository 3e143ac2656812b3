//! rootvault: an offline root certificate authority for service meshes, with the root key
//! on a PKCS#11 token and every action in a hash-chained ledger.
//!
//! The surface a face uses is [`ceremony`] (every use case, taking a [`ceremony::Ctx`]), with
//! [`Error`]/[`ExitCode`] and the value types its requests are made of, re-exported below.
//! The layers under it are public for the auditor's tools, the benchmarks and the tests, bottom
//! up: [`keys`] (shared types), [`hsm`] (the token), [`x509`] (profiles, lint, sign, verify),
//! [`ledger`] (the chain and its derived tables), [`fsio`] (every file write), [`vault`] (the
//! directory), [`policy`], [`recipients`], [`witness`], [`software`], [`export`]; [`tui`] is
//! the second face. See `docs/architecture.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ceremony;
pub mod error;
pub mod export;
#[doc(hidden)]
pub mod fault;
pub mod fsio;
pub mod hsm;
pub mod keys;
pub mod ledger;
pub mod pin;
pub mod policy;
pub mod recipients;
pub mod software;
pub mod time;
pub mod tui;
pub mod vault;
pub mod witness;
pub mod x509;

pub use ceremony::{Auth, Ctx, Operator, Output};
pub use error::{Error, ExitCode, Result};
pub use export::Format;
pub use keys::{KeyAlg, KeyType};
pub use pin::PinSource;
pub use policy::ClusterName;
pub use recipients::{Identities, Recipients};
pub use vault::Vault;
pub use x509::{Dn, RevocationReason};
