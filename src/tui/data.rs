//! What the app last read from the vault and the token, shared read-only by every screen.

use crate::ceremony::{self, CertInfo, ExportFreshness, GenerationInfo, TokenReport, Witness};
use crate::ledger::{CrlRow, RevocationRow, Software, VerifyReport};
use crate::vault::Vault;

use super::words::say;

/// The witness requirement and the registered witnesses.
pub(crate) struct Witnesses {
    /// M: how many distinct witnesses each trust-changing action needs.
    pub required: u32,
    /// The registered witnesses, by name.
    pub registered: Vec<Witness>,
}

/// The vault as last read, the token as last read, and the last verification.
pub(crate) struct Data {
    pub has_root: bool,
    /// Every root generation, oldest first.
    pub generations: Result<Vec<GenerationInfo>, String>,
    pub certs: Result<Vec<CertInfo>, String>,
    pub head: Result<(i64, String), String>,
    pub last_crl: Result<Option<CrlRow>, String>,
    /// Each generation's last CRL, by generation.
    pub crls: Vec<(u32, Option<CrlRow>)>,
    pub revocations: Result<Vec<RevocationRow>, String>,
    /// The witness requirement and registry.
    pub witnesses: Result<Witnesses, String>,
    /// Each cluster's latest export, judged against the phase.
    pub freshness: Result<Vec<ExportFreshness>, String>,
    /// The SPIFFE trust domain intermediates are constrained to by default, if any.
    pub trust_domain: Option<String>,
    /// The running binary (version, commit, SHA-256), or why it cannot be told.
    pub software: Result<Software, String>,
    /// The token as `token_report` read it (no PIN); `None` until read.
    pub token: Option<Result<TokenReport, String>>,
    /// The last verification in this session, and when it finished (RFC 3339).
    pub last_verify: Option<(VerifyReport, String)>,
}

impl Data {
    /// Nothing read yet.
    pub fn empty() -> Data {
        Data {
            has_root: false,
            generations: Ok(Vec::new()),
            certs: Ok(Vec::new()),
            head: Ok((0, String::new())),
            last_crl: Ok(None),
            crls: Vec::new(),
            revocations: Ok(Vec::new()),
            witnesses: Ok(Witnesses {
                required: 0,
                registered: Vec::new(),
            }),
            freshness: Ok(Vec::new()),
            trust_domain: None,
            software: Err("not read yet".into()),
            token: None,
            last_verify: None,
        }
    }

    /// Reads generations, certificates, ledger head, CRLs, revocations, witnesses and
    /// exports again.
    pub fn reload(&mut self, v: &Vault) {
        self.generations = ceremony::generations(v).map_err(|e| say(&e));
        self.has_root = self
            .generations
            .as_ref()
            .is_ok_and(|g| g.iter().any(|g| g.status == "active"));
        self.certs = ceremony::list_certificates(v, None).map_err(|e| say(&e));
        self.witnesses = ceremony::list_witnesses(v)
            .map(|(required, registered)| Witnesses {
                required,
                registered,
            })
            .map_err(|e| say(&e));
        self.freshness = ceremony::export_freshness(v).map_err(|e| say(&e));
        self.trust_domain = ceremony::trust_domain(v);
        self.software = crate::software::current().cloned().map_err(|e| say(&e));
        self.crls.clear();
        match v.ledger() {
            Ok(l) => {
                self.head = l.head().map_err(|e| say(&e.into()));
                self.last_crl = l.last_crl().map_err(|e| say(&e.into()));
                self.revocations = l.revocations().map_err(|e| say(&e.into()));
                let numbers: Vec<u32> = self.generations().iter().map(|g| g.generation).collect();
                for g in numbers {
                    if let Ok(crl) = l.last_crl_of(g) {
                        self.crls.push((g, crl));
                    }
                }
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

    /// The root generations as read (none if they could not be).
    pub fn generations(&self) -> &[GenerationInfo] {
        self.generations.as_deref().unwrap_or(&[])
    }

    /// The active generation, if any.
    pub fn active(&self) -> Option<&GenerationInfo> {
        self.generations()
            .iter()
            .rev()
            .find(|g| g.status == "active")
    }

    /// The pending generation, if any.
    pub fn pending(&self) -> Option<&GenerationInfo> {
        self.generations().iter().find(|g| g.status == "pending")
    }

    /// M, the witnesses each trust-changing action needs (0 when it cannot be read: the use
    /// case then says why).
    pub fn witnesses_required(&self) -> u32 {
        self.witnesses.as_ref().map_or(0, |w| w.required)
    }

    /// The last CRL of `generation`, if it issued one.
    pub fn last_crl_of(&self, generation: u32) -> Option<&CrlRow> {
        self.crls
            .iter()
            .find(|(g, _)| *g == generation)
            .and_then(|(_, c)| c.as_ref())
    }
}
