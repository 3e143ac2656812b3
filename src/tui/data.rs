//! What the app last read from the vault and the token, shared read-only by every screen.

use crate::ceremony::{self, CertInfo, RootInfo, TokenReport};
use crate::ledger::{CrlRow, RevocationRow, VerifyReport};
use crate::vault::Vault;

use super::words::say;

/// The vault as last read, the token as last read, and the last verification.
pub(crate) struct Data {
    pub root: Option<Result<RootInfo, String>>,
    pub has_root: bool,
    pub certs: Result<Vec<CertInfo>, String>,
    pub head: Result<(i64, String), String>,
    pub last_crl: Result<Option<CrlRow>, String>,
    pub revocations: Result<Vec<RevocationRow>, String>,
    /// The token as `token_report` read it (no PIN); `None` until read.
    pub token: Option<Result<TokenReport, String>>,
    /// The last verification in this session, and when it finished (RFC 3339).
    pub last_verify: Option<(VerifyReport, String)>,
}

impl Data {
    /// Nothing read yet.
    pub fn empty() -> Data {
        Data {
            root: None,
            has_root: false,
            certs: Ok(Vec::new()),
            head: Ok((0, String::new())),
            last_crl: Ok(None),
            revocations: Ok(Vec::new()),
            token: None,
            last_verify: None,
        }
    }

    /// Reads root, certificates, ledger head, CRL and revocations again.
    pub fn reload(&mut self, v: &Vault) {
        self.root = Some(ceremony::root_info(v).map_err(|e| say(&e)));
        self.has_root = matches!(self.root, Some(Ok(_)));
        self.certs = ceremony::list_certificates(v, None).map_err(|e| say(&e));
        match v.ledger() {
            Ok(l) => {
                self.head = l.head().map_err(|e| say(&e.into()));
                self.last_crl = l.last_crl().map_err(|e| say(&e.into()));
                self.revocations = l.revocations().map_err(|e| say(&e.into()));
            }
            Err(e) => {
                let e = say(&e);
                self.head = Err(e.clone());
                self.last_crl = Err(e.clone());
                self.revocations = Err(e);
            }
        }
    }

    /// The certificates as read (none if they could not be).
    pub fn certs(&self) -> &[CertInfo] {
        self.certs.as_deref().unwrap_or(&[])
    }
}
