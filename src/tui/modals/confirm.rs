//! The typed confirmations: what will happen, then a prefix of a fingerprint or serial typed
//! by the operator. The text goes to ceremony unchanged; ceremony decides whether it matches.

use std::any::Any;
use std::path::PathBuf;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use crate::ceremony::{self, Answer, Auth, Scripted};
use crate::x509::RevocationReason;

use super::super::field::TextField;
use super::super::job::{Job, Outcome};
use super::super::keys::{Action, Screen};
use super::super::screens::inbox::InboxMsg;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, inner_width, input_line, kv_lines, text_lines};
use super::generate::{start_generate, GenerateSpec};

/// What a confirmation leads to.
enum Then {
    Sign(PathBuf),
    Revoke(String, RevocationReason),
    Batch,
    Generate(Box<GenerateSpec>),
}

/// A summary, an explanation, and the field for the typed prefix.
pub(crate) struct TypedConfirm {
    title: &'static str,
    intro: Option<&'static str>,
    pairs: Vec<(String, String)>,
    ask: &'static str,
    typed: TextField,
    then: Then,
}

impl TypedConfirm {
    /// Signing the inbox request at `path`.
    pub fn sign(path: PathBuf, pairs: Vec<(String, String)>) -> TypedConfirm {
        TypedConfirm {
            title: "Confirm: sign",
            intro: None,
            pairs,
            ask: "Have the cluster team read out their key's SPKI SHA-256. Type at least 8 hex digits of it to sign (colons, spaces and case are ignored):",
            typed: TextField::default(),
            then: Then::Sign(path),
        }
    }

    /// Revoking `serial` for `reason`.
    pub fn revoke(
        serial: String,
        reason: RevocationReason,
        pairs: Vec<(String, String)>,
    ) -> TypedConfirm {
        TypedConfirm {
            title: "Confirm: revoke",
            intro: None,
            pairs,
            ask: "Type at least 8 hex digits of the certificate's serial to revoke it:",
            typed: TextField::default(),
            then: Then::Revoke(serial, reason),
        }
    }

    /// Signing the checked batch.
    pub fn batch(pairs: Vec<(String, String)>) -> TypedConfirm {
        TypedConfirm {
            title: "Confirm: sign the batch",
            intro: None,
            pairs,
            ask: "Compare the manifest's SHA-256 with the one its author computed (sha256sum). Type at least 8 hex digits of it to sign every request in it (colons, spaces and case are ignored):",
            typed: TextField::default(),
            then: Then::Batch,
        }
    }

    /// Generating a key and signing it.
    pub fn generate(spec: Box<GenerateSpec>) -> TypedConfirm {
        TypedConfirm {
            title: "Confirm: generate a key and sign",
            intro: Some("The vault generates the key in memory and the token signs; key and chain are written only encrypted to these recipients."),
            pairs: super::generate::confirm_pairs(&spec),
            ask: "Check it with the cluster team: printf '%s\\n' RECIPIENTS | sort | sha256sum. Type at least 8 hex digits of it to generate and sign:",
            typed: TextField::default(),
            then: Then::Generate(spec),
        }
    }

    fn submit(&mut self, ctx: &Ctx) -> Effect {
        let typed = self.typed.text().to_owned();
        let run = match std::mem::replace(&mut self.then, Then::Batch) {
            Then::Sign(path) => Effect::Send(InboxMsg::Sign(path, typed).into()),
            Then::Batch => Effect::Send(InboxMsg::SignBatch(typed).into()),
            Then::Revoke(serial, reason) => revoke_job(serial, reason, typed, ctx),
            Then::Generate(spec) => start_generate(*spec, typed, ctx),
        };
        Effect::Many(vec![Effect::Close, run])
    }

    fn cancelled(&self) -> &'static str {
        match self.then {
            Then::Sign(_) | Then::Batch => "not confirmed; nothing was signed",
            Then::Revoke(..) => "not confirmed; nothing was revoked",
            Then::Generate(_) => "not confirmed; nothing was generated or signed",
        }
    }
}

fn revoke_job(serial: String, reason: RevocationReason, typed: String, ctx: &Ctx) -> Effect {
    let operator = ctx.operator.clone();
    Effect::Run(Job::with_session(
        "revoking",
        Screen::Certificates,
        move |vault, session, _| {
            let mut confirm = Scripted(Answer::Typed(typed));
            Outcome::Revoke(
                reason,
                ceremony::revoke(
                    &ceremony::Ctx {
                        vault,
                        auth: Auth::Unlocked(session),
                        operator: &operator,
                    },
                    &ceremony::RevokeTarget::Serial(serial),
                    reason,
                    &mut confirm,
                ),
            )
        },
    ))
}

impl Modal for TypedConfirm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Type(c) => self.typed.insert(c),
            Action::Erase => {
                self.typed.backspace();
            }
            Action::Back => {
                return Effect::Many(vec![Effect::Close, Effect::info(self.cancelled())])
            }
            Action::Enter => return self.submit(ctx),
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut lines = Vec::new();
        if let Some(intro) = self.intro {
            lines.extend(text_lines(intro, w, t.text()));
            lines.push(Line::raw(""));
        }
        lines.extend(kv_lines(&self.pairs, w, t));
        lines.push(Line::raw(""));
        lines.extend(text_lines(self.ask, w, t.text()));
        lines.push(input_line(&self.typed, t));
        boxed(self.title.into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        let (of, enter) = match self.then {
            Then::Sign(_) => ("of the fingerprint", "sign"),
            Then::Revoke(..) => ("of the serial", "revoke"),
            Then::Batch => ("of the manifest's SHA-256", "sign all"),
            Then::Generate(_) => ("of the recipients' SHA-256", "generate and sign"),
        };
        vec![
            ("hex digits", of),
            ("Enter", enter),
            ("Esc", "cancel"),
            ("Ctrl-C", "quit"),
        ]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some(match self.then {
            Then::Sign(_) => "confirming a signature",
            Then::Revoke(..) => "revoking a certificate",
            Then::Batch => "confirming a batch",
            Then::Generate(_) => "confirming a generated key",
        })
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
