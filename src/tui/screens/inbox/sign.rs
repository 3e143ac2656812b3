//! Signing from the inbox: what is checked before anything opens (a locked token, a refused
//! request, a key that already has a valid certificate), the job that signs through the one
//! confirmation dialog, and what its outcome shows. A refused request is handed to
//! `ceremony::sign_csr` as the CLI's `sign` would, so ceremony records the refusal.

use std::path::Path;

use crate::ceremony::{self, Answer, Auth, Scripted, WitnessedAction};
use crate::error::{Error, NotConfirmed, Refusal, Result};
use crate::pin::PinSource;

use super::super::super::job::{Job, Outcome};
use super::super::super::keys::Screen;
use super::super::super::modals::message::{Acknowledge, Signed};
use super::super::super::modals::witness::{self, TrustChange};
use super::super::super::view::{Ctx, Effect};
use super::super::super::words;
use super::{Entry, Inbox, InboxMsg};

/// What the operator is told about the certificates a key already has.
pub(crate) fn existing_lines(e: &Entry) -> Vec<String> {
    e.existing
        .iter()
        .map(|c| {
            format!(
                "cluster {} serial {} is valid until {}",
                c.cluster.as_deref().unwrap_or("-"),
                c.serial,
                c.not_after
            )
        })
        .collect()
}

impl Inbox {
    /// `s`: sign the selected request, if it may be.
    pub(super) fn open_sign(&mut self, ctx: &Ctx) -> Effect {
        let Some(entry) = self.selected_entry() else {
            return Effect::info("the inbox is empty; o adds a file or directory");
        };
        let inspection = match &entry.inspection {
            Ok(i) => i,
            Err(e) => return Effect::error("Cannot judge this request", e),
        };
        let path = entry.path.clone();
        let (acceptable, named, fresh) = (
            inspection.acceptable,
            entry.cluster.is_some(),
            entry.existing.is_empty(),
        );
        if !acceptable {
            self.reviewing = true;
            if !named {
                return Effect::info(
                    "name the cluster first: c (the file name is not a cluster name)",
                );
            }
            return self.record_refusal(&path, ctx);
        }
        if !ctx.unlocked() {
            return Effect::locked();
        }
        self.reviewing = true;
        if fresh {
            return self.start_sign(&path, ctx);
        }
        let Some(entry) = self.entry(&path) else {
            return Effect::None;
        };
        let mut lines = vec![format!(
            "The key of {} already has a valid certificate:",
            entry.name
        )];
        lines.extend(existing_lines(entry));
        lines.push(
            "Signing it again makes another valid certificate for the same key. Do it only for a planned renewal, and revoke the old one afterwards.".to_owned(),
        );
        Effect::open(Acknowledge::new(
            "Signed before",
            lines,
            "sign another certificate for this key",
            "not signed: the key keeps the certificate it has",
            InboxMsg::Sign(path).into(),
        ))
    }

    /// Signs the request at `path` with the session: ceremony asks through the dialog.
    pub(super) fn start_sign(&self, path: &Path, ctx: &Ctx) -> Effect {
        let Some(entry) = self.entry(path) else {
            return Effect::None;
        };
        let (Ok(input), Some(cluster)) = (entry.input.clone(), entry.cluster.clone()) else {
            return Effect::None;
        };
        let days = entry.days;
        let warning = match existing_lines(entry) {
            lines if lines.is_empty() => Vec::new(),
            lines => vec![format!(
                "ACKNOWLEDGED: this key already has a valid certificate ({}); this makes another.",
                lines.join("; ")
            )],
        };
        // The operator acknowledged the key's other certificates before this point; that is
        // what `--allow-key-reuse` says on the command line. A compromised key is refused
        // whatever is acknowledged.
        let allow_key_reuse = !warning.is_empty();
        let operator = ctx.operator.clone();
        let path = path.to_owned();
        let (for_statement, cluster_s) = (input.clone(), cluster.clone());
        witness::run(
            ctx,
            TrustChange::new(
                "sign the request",
                move |vault, operator| {
                    let req = ceremony::SignRequest {
                        input: &for_statement,
                        cluster: cluster_s,
                        days,
                        out: None,
                        allow_key_reuse,
                    };
                    ceremony::statement(vault, operator, &WitnessedAction::Sign(&req))
                },
                move |sigs| {
                    Job::with_session("signing", Screen::Inbox, move |vault, session, progress| {
                        let req = ceremony::SignRequest {
                            input: &input,
                            cluster,
                            days,
                            out: None,
                            allow_key_reuse,
                        };
                        let mut confirm = progress.asker(
                            "Have the cluster team read out their key's SPKI SHA-256.",
                            Vec::new(),
                            warning,
                        );
                        let ctx = ceremony::Ctx {
                            vault,
                            auth: Auth::Unlocked(session),
                            operator: &operator,
                        };
                        Outcome::Sign(
                            path,
                            ceremony::sign_csr_witnessed(&ctx, &req, &sigs, &mut confirm),
                        )
                    })
                },
            ),
        )
    }

    /// Hands a refused request to ceremony as `sign` would, and declines: ceremony records
    /// the refusal (no token needed) and signs nothing.
    fn record_refusal(&self, path: &Path, ctx: &Ctx) -> Effect {
        let Some(entry) = self.entry(path) else {
            return Effect::None;
        };
        let (Ok(input), Some(cluster)) = (entry.input.clone(), entry.cluster.clone()) else {
            return Effect::error("Cannot judge this request", &entry.verdict().1);
        };
        let days = entry.days;
        let operator = ctx.operator.clone();
        let path = path.to_owned();
        Effect::Run(Job::plain(
            "recording the refusal",
            Screen::Inbox,
            move |vault, _| {
                let req = ceremony::SignRequest {
                    input: &input,
                    cluster,
                    days,
                    out: None,
                    allow_key_reuse: false,
                };
                // Refused before any login: the empty PIN source is never read.
                let pins = PinSource::default();
                let ctx = ceremony::Ctx {
                    vault,
                    auth: Auth::Pin(&pins),
                    operator: &operator,
                };
                let r = ceremony::sign_csr(&ctx, &req, &mut Scripted(Answer::Declined));
                Outcome::Recorded(path, r.err())
            },
        ))
    }

    pub(super) fn on_signed(
        &mut self,
        path: &Path,
        r: Result<ceremony::Issued>,
        ctx: &Ctx,
    ) -> Effect {
        if let Some(e) = self.entry_mut(path) {
            e.judge(ctx.vault);
        }
        match r {
            Ok(issued) => {
                let c = issued.certificate;
                if let Some(e) = self.entry_mut(path) {
                    e.signed = Some(c.serial.clone());
                }
                // The review is done; the result (and the export) is in the modal.
                self.reviewing = false;
                Effect::Many(vec![
                    Effect::success(format!(
                        "signed: cluster {} serial {} SHA-256 {}",
                        c.cluster.as_deref().unwrap_or(""),
                        c.serial,
                        c.sha256
                    )),
                    Effect::open(Signed::new(c)),
                ])
            }
            Err(Error::NotConfirmed(NotConfirmed::Declined { nothing })) => {
                Effect::info(format!("not confirmed; {nothing}"))
            }
            Err(e) => Effect::failed("Not signed", &e),
        }
    }

    pub(super) fn on_recorded(&mut self, path: &Path, r: Option<Error>, ctx: &Ctx) -> Effect {
        if let Some(e) = self.entry_mut(path) {
            e.judge(ctx.vault);
        }
        match r {
            Some(e @ Error::Refused(Refusal::Request { .. })) => Effect::error(
                "Refused, and recorded",
                &format!(
                    "{}\n\nThe refusal is recorded in the ledger (screen 6), as the command line records it.",
                    words::say(&e)
                ),
            ),
            // Acceptable after all (the vault changed): nothing happened.
            Some(Error::NotConfirmed(_)) | None => {
                Effect::info("this request is acceptable now; s signs it")
            }
            Some(e) => Effect::failed("Cannot judge this request", &e),
        }
    }
}
