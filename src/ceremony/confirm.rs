//! Operator confirmation, shared by the CLI (prompt or `--confirm`), the TUI (a modal) and the
//! tests (a scripted answer). The face only collects what the operator typed; whether it
//! matches is decided here, once.

use crate::error::{NotConfirmed, Result};

/// The fewest hex digits of a fingerprint or serial the operator must type: 64 bits. A
/// shorter prefix can be matched by grinding keys (one core matched 6 hex digits of a real
/// CSR's SPKI SHA-256 in under four minutes; 8 digits, 32 bits, is hours on one machine),
/// so whoever could swap a CSR in transit would get their own key certified.
pub const MIN_CONFIRM_DIGITS: usize = 16;

/// What the operator is asked to confirm.
#[derive(Debug, Clone)]
pub struct ConfirmRequest {
    /// What will happen on confirmation, e.g. "sign", "revoke".
    pub action: &'static str,
    /// The summary lines shown before the question (cluster, subject, key, profile, verdict).
    pub summary: Vec<(String, String)>,
    /// What the operator must type a prefix of, e.g. "the SPKI SHA-256 fingerprint".
    pub subject: &'static str,
    /// The full value (hex); the face must not pre-fill it.
    pub expected: String,
}

/// What the operator answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// The characters typed (or given with `--confirm`).
    Typed(String),
    /// The operator declined.
    Declined,
    /// No way to ask: no terminal and no `--confirm`.
    Unavailable,
}

/// A way of asking the operator.
pub trait Confirm {
    /// Shows `request` and returns the operator's answer.
    fn ask(&mut self, request: &ConfirmRequest) -> Answer;
}

/// A fixed answer, for `--confirm HEX` and for tests.
#[derive(Debug, Clone)]
pub struct Scripted(pub Answer);

impl Confirm for Scripted {
    fn ask(&mut self, _: &ConfirmRequest) -> Answer {
        self.0.clone()
    }
}

/// Accepts the answer if it is at least [`MIN_CONFIRM_DIGITS`] hex digits and a prefix of
/// `expected`; colons, spaces and case are ignored.
pub fn check(request: &ConfirmRequest, answer: Answer, nothing: &'static str) -> Result<()> {
    let subject = request.subject;
    let typed = match answer {
        Answer::Typed(t) => t,
        Answer::Declined => return Err(NotConfirmed::Declined { nothing }.into()),
        Answer::Unavailable => {
            return Err(NotConfirmed::NoTerminal {
                subject,
                min: MIN_CONFIRM_DIGITS,
                nothing,
            }
            .into())
        }
    };
    let norm: String = typed
        .chars()
        .filter(|c| !matches!(c, ':' | ' ' | '\t'))
        .flat_map(char::to_lowercase)
        .collect();
    if norm.len() < MIN_CONFIRM_DIGITS || !norm.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(NotConfirmed::TooShort {
            subject,
            min: MIN_CONFIRM_DIGITS,
            nothing,
        }
        .into());
    }
    if !request.expected.to_ascii_lowercase().starts_with(&norm) {
        return Err(NotConfirmed::Mismatch { subject, nothing }.into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req() -> ConfirmRequest {
        ConfirmRequest {
            action: "test",
            summary: vec![],
            subject: "the fingerprint",
            expected: "0a1b2c3d4e5f67890011223344556677".into(),
        }
    }

    #[test]
    fn a_prefix_of_sixteen_digits_confirms_ignoring_colons_and_case() {
        check(&req(), Answer::Typed("0A:1B:2C:3D:4E:5F:67:89".into()), "x").unwrap();
        check(
            &req(),
            Answer::Typed("0a1b2c3d4e5f678900112233".into()),
            "x",
        )
        .unwrap();
    }

    #[test]
    fn short_wrong_declined_or_unavailable_answers_do_not_confirm() {
        for a in [
            // Eight digits (32 bits) were once enough; they are not now.
            Answer::Typed("0a1b2c3d".into()),
            Answer::Typed("0a1b2c3d4e5f678".into()),
            Answer::Typed("0a1b2c3d4e5f6780".into()),
            Answer::Typed("zz1b2c3d4e5f6789".into()),
            Answer::Declined,
            Answer::Unavailable,
        ] {
            let e = check(&req(), a.clone(), "nothing was signed").unwrap_err();
            assert!(
                matches!(e, crate::Error::NotConfirmed(_))
                    && e.to_string().ends_with("nothing was signed"),
                "{a:?}: {e}"
            );
        }
    }
}
