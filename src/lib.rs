//! rootvault: an offline root certificate authority for service meshes, with the root key
//! on a PKCS#11 token and every action in a hash-chained ledger.
//!
//! Layers, bottom up: [`keys`] (shared types), [`hsm`] (the token), [`x509`] (profiles, lint,
//! sign, verify), [`ledger`] (the chain and its derived tables), [`vault`] (the directory),
//! [`ceremony`] (the use cases both faces call). See `docs/architecture.md`.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod ceremony;
pub mod error;
pub mod export;
pub mod fault;
pub mod fsio;
pub mod hsm;
pub mod keys;
pub mod ledger;
pub mod pin;
pub mod policy;
pub mod recipients;
pub mod software;
pub mod tui;
pub mod vault;
pub mod witness;
pub mod x509;

pub use error::{Error, ExitCode, Result};
