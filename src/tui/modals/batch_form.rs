//! The form that opens a batch (`b` on the inbox): the CLI's `sign-batch MANIFEST
//! --out-dir DIR [--days N]`, parsed as the command line parses its arguments.

use std::any::Any;
use std::path::{Path, PathBuf};

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::super::field::TextField;
use super::super::keys::Action;
use super::super::screens::batch::BatchSpec;
use super::super::screens::inbox::InboxMsg;
use super::super::view::{Ctx, Effect, Key, Modal};
use super::super::widgets::{boxed, field_line, inner_width, text_lines};

/// The form that opens a batch: manifest, output directory, days.
pub(crate) struct BatchForm {
    pub manifest: TextField,
    pub out_dir: TextField,
    /// The operator typed in the output field: no more following the manifest.
    pub out_edited: bool,
    pub days: TextField,
    /// 0 manifest, 1 output directory, 2 days.
    pub focus: usize,
    pub problem: Option<String>,
}

impl BatchForm {
    pub const FIELDS: usize = 3;

    pub fn new() -> BatchForm {
        let mut f = BatchForm {
            manifest: TextField::default(),
            out_dir: TextField::default(),
            out_edited: false,
            days: TextField::default(),
            focus: 0,
            problem: None,
        };
        f.default_out();
        f
    }

    /// The form again, filled in as `spec` was.
    pub fn from_spec(spec: &BatchSpec) -> BatchForm {
        let mut f = BatchForm {
            manifest: TextField::new(&spec.manifest.display().to_string()),
            out_dir: TextField::default(),
            out_edited: false,
            days: TextField::new(&spec.days.map(|d| d.to_string()).unwrap_or_default()),
            focus: 0,
            problem: None,
        };
        f.default_out();
        if f.out_dir.text() != spec.out_dir.display().to_string() {
            f.out_dir.set(&spec.out_dir.display().to_string());
            f.out_edited = true;
        }
        f
    }

    /// The suggested output: a `signed` directory next to the manifest, until the operator
    /// edits it.
    pub fn default_out(&mut self) {
        if !self.out_edited {
            self.out_dir.set(
                &default_out_dir(Path::new(self.manifest.text().trim()))
                    .display()
                    .to_string(),
            );
        }
    }

    /// The form's values, parsed as the command line parses its arguments.
    pub fn spec(&self) -> Result<BatchSpec, String> {
        let manifest = self.manifest.text().trim();
        if manifest.is_empty() {
            return Err("manifest: type the path of the manifest file".to_owned());
        }
        let out_dir = self.out_dir.text().trim();
        if out_dir.is_empty() {
            return Err("write to: type the directory for the certificates".to_owned());
        }
        let days = match self.days.text().trim() {
            "" => None,
            d => Some(
                d.parse::<u32>()
                    .map_err(|_| format!("days: {d:?} is not a whole number of days"))?,
            ),
        };
        Ok(BatchSpec {
            manifest: PathBuf::from(manifest),
            out_dir: PathBuf::from(out_dir),
            days,
        })
    }
}

/// `signed` next to the manifest (in the current directory for a bare file name).
pub(crate) fn default_out_dir(manifest: &Path) -> PathBuf {
    match manifest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join("signed"),
        _ => PathBuf::from("signed"),
    }
}

impl BatchForm {
    fn field_mut(&mut self) -> &mut TextField {
        match self.focus {
            0 => &mut self.manifest,
            1 => {
                self.out_edited = true;
                &mut self.out_dir
            }
            _ => &mut self.days,
        }
    }
}

impl Modal for BatchForm {
    fn handle(&mut self, action: Action, ctx: &Ctx) -> Effect {
        match action {
            Action::Back => {
                return Effect::Many(vec![
                    Effect::Close,
                    Effect::info("cancelled; nothing was signed"),
                ])
            }
            Action::NextField | Action::Down => self.focus = (self.focus + 1) % Self::FIELDS,
            Action::PrevField | Action::Up => {
                self.focus = (self.focus + Self::FIELDS - 1) % Self::FIELDS
            }
            Action::Type(c) => {
                self.field_mut().insert(c);
                self.default_out();
            }
            Action::Erase => {
                self.field_mut().backspace();
                self.default_out();
            }
            Action::Enter => match self.spec() {
                Ok(spec) => {
                    if let Some(job) = ctx.job {
                        return Effect::info(format!("wait: {} is still running", job.label));
                    }
                    return Effect::Many(vec![
                        Effect::Close,
                        Effect::Send(InboxMsg::CheckBatch(spec).into()),
                    ]);
                }
                Err(problem) => self.problem = Some(problem),
            },
            _ => {}
        }
        Effect::None
    }

    fn render(&self, ctx: &Ctx, area: Rect, buf: &mut Buffer) {
        let t = ctx.theme;
        let w = inner_width(area);
        let mut lines = text_lines(
            "Sign many clusters at once: every line of the manifest (cluster  spki-sha256  csr-path) is checked before anything is signed, and one confirmation signs them all.",
            w,
            t.text(),
        );
        lines.extend([
            Line::raw(""),
            field_line("manifest", &self.manifest, self.focus == 0, t),
            Line::styled(
                format!("{:<17}CSR paths in it are relative to its directory", ""),
                t.dim(),
            ),
            field_line("write to", &self.out_dir, self.focus == 1, t),
            Line::styled(
                format!(
                    "{:<17}a directory: one CLUSTER.pem each, never overwritten",
                    ""
                ),
                t.dim(),
            ),
            field_line("days", &self.days, self.focus == 2, t),
            Line::styled(format!("{:<17}empty: the policy's default", ""), t.dim()),
            Line::styled(
                format!("{:<17}paths relative to {}", "", ctx.cwd.display()),
                t.dim(),
            ),
        ]);
        if let Some(p) = &self.problem {
            lines.push(Line::raw(""));
            lines.extend(text_lines(p, w, t.error()));
        }
        boxed("Sign a batch".into(), lines, area, buf, t);
    }

    fn footer(&self) -> Vec<Key> {
        vec![
            ("Tab", "field"),
            ("Enter", "check"),
            ("Esc", "cancel"),
            ("Ctrl-C", "quit"),
        ]
    }

    fn takes_text(&self) -> bool {
        true
    }

    fn flow(&self) -> Option<&'static str> {
        Some("opening a batch")
    }

    fn as_any(&self) -> &dyn Any {
        self
    }
}
