//! A one-line text field with a cursor: ←→, Home/End (Ctrl-A/Ctrl-E), Backspace/Delete,
//! Ctrl-U (to the start), Ctrl-W (the word before the cursor), and path completion. Forms
//! and prompts keep one per field, so what was typed stays there until the operator changes
//! it, errors included.

use std::path::{Path, PathBuf};

use ratatui::text::Span;

use super::keys::Action;
use super::theme::Theme;

/// The text and where the cursor is (in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TextField {
    text: String,
    cursor: usize,
}

/// What Tab did in a path field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Completion {
    /// The text was completed (or extended to what every match shares).
    Completed,
    /// Several names match and share nothing more: these.
    Choices(Vec<String>),
    /// Nothing to complete.
    Nothing,
}

impl TextField {
    /// A field holding `text`, the cursor at its end.
    pub fn new(text: &str) -> TextField {
        TextField {
            text: text.to_owned(),
            cursor: text.chars().count(),
        }
    }

    /// What is typed.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether nothing is typed.
    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    /// Replaces the text; the cursor goes to its end.
    pub fn set(&mut self, text: &str) {
        *self = TextField::new(text);
    }

    /// Empties the field.
    pub fn clear(&mut self) {
        self.set("");
    }

    fn len(&self) -> usize {
        self.text.chars().count()
    }

    fn byte_at(&self, chars: usize) -> usize {
        self.text
            .char_indices()
            .nth(chars)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Types `c` at the cursor.
    pub fn insert(&mut self, c: char) {
        let at = self.byte_at(self.cursor);
        self.text.insert(at, c);
        self.cursor += 1;
    }

    /// Erases the character before the cursor; false if there was none.
    pub fn backspace(&mut self) -> bool {
        if self.cursor == 0 {
            return false;
        }
        self.cursor -= 1;
        let at = self.byte_at(self.cursor);
        self.text.remove(at);
        true
    }

    fn delete(&mut self) {
        if self.cursor < self.len() {
            let at = self.byte_at(self.cursor);
            self.text.remove(at);
        }
    }

    fn remove_range(&mut self, from: usize, to: usize) {
        let (a, b) = (self.byte_at(from), self.byte_at(to));
        self.text.replace_range(a..b, "");
        self.cursor = from;
    }

    /// Applies an editing action; false if `action` is not one (the form decides).
    pub fn edit(&mut self, action: Action) -> bool {
        match action {
            Action::Type(c) => self.insert(c),
            Action::Erase => {
                self.backspace();
            }
            Action::Delete => self.delete(),
            Action::Left => self.cursor = self.cursor.saturating_sub(1),
            Action::Right => self.cursor = (self.cursor + 1).min(self.len()),
            Action::Home => self.cursor = 0,
            Action::End => self.cursor = self.len(),
            Action::KillLine => self.remove_range(0, self.cursor),
            Action::KillWord => {
                let chars: Vec<char> = self.text.chars().collect();
                let mut from = self.cursor;
                while from > 0 && chars[from - 1].is_whitespace() {
                    from -= 1;
                }
                while from > 0 && !chars[from - 1].is_whitespace() && chars[from - 1] != '/' {
                    from -= 1;
                }
                // A lone slash before the cursor goes with the word.
                if from == self.cursor && from > 0 {
                    from -= 1;
                }
                self.remove_range(from, self.cursor);
            }
            _ => return false,
        }
        true
    }

    /// Completes the path before the cursor from the files in its directory (relative paths
    /// relative to `cwd`): the whole name when one matches (a directory gets its `/`), the
    /// part every match shares when several do.
    pub fn complete_path(&mut self, cwd: &Path) -> Completion {
        let before: String = self.text.chars().take(self.cursor).collect();
        let (dir_part, stem) = match before.rfind('/') {
            Some(i) => (&before[..=i], &before[i + 1..]),
            None => ("", before.as_str()),
        };
        let dir = if dir_part.is_empty() {
            cwd.to_path_buf()
        } else if Path::new(dir_part).is_absolute() {
            PathBuf::from(dir_part)
        } else {
            cwd.join(dir_part)
        };
        let Ok(entries) = std::fs::read_dir(&dir) else {
            return Completion::Nothing;
        };
        let mut matches: Vec<(String, bool)> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                let hidden_ok = stem.starts_with('.') || !name.starts_with('.');
                (name.starts_with(stem) && hidden_ok).then(|| (name, e.path().is_dir()))
            })
            .collect();
        matches.sort();
        let insert = match matches.as_slice() {
            [] => return Completion::Nothing,
            [(name, is_dir)] => {
                let mut rest = name[stem.len()..].to_owned();
                if *is_dir {
                    rest.push('/');
                }
                rest
            }
            [(first, _), others @ ..] => {
                let mut shared = first.len();
                for (o, _) in others {
                    shared = first
                        .chars()
                        .zip(o.chars())
                        .take_while(|(a, b)| a == b)
                        .count()
                        .min(shared);
                }
                let common: String = first.chars().take(shared).collect();
                common[stem.len()..].to_owned()
            }
        };
        if insert.is_empty() {
            return match matches.len() {
                1 => Completion::Nothing,
                _ => Completion::Choices(
                    matches
                        .into_iter()
                        .map(|(n, d)| if d { format!("{n}/") } else { n })
                        .collect(),
                ),
            };
        }
        for c in insert.chars() {
            self.insert(c);
        }
        Completion::Completed
    }

    /// The field as spans: the text, with the cursor shown when `focused`.
    pub fn spans(&self, focused: bool, t: Theme) -> Vec<Span<'static>> {
        if !focused {
            return vec![Span::raw(self.text.clone())];
        }
        let at = self.byte_at(self.cursor);
        let (before, rest) = self.text.split_at(at);
        let mut spans = vec![Span::styled(before.to_owned(), t.input())];
        let mut chars = rest.chars();
        match chars.next() {
            Some(c) => {
                spans.push(Span::styled(c.to_string(), t.cursor()));
                spans.push(Span::styled(chars.as_str().to_owned(), t.input()));
            }
            None => spans.push(Span::styled(" ", t.cursor())),
        }
        spans
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(text: &str, actions: &[Action]) -> TextField {
        let mut f = TextField::new(text);
        for a in actions {
            assert!(f.edit(*a), "{a:?} is an editing action");
        }
        f
    }

    #[test]
    fn the_cursor_moves_and_typing_goes_where_it_is() {
        let f = field("prod-est", &[Action::Left, Action::Left, Action::Type('a')]);
        assert_eq!(f.text(), "prod-east");
        let f = field(
            "rod",
            &[
                Action::Home,
                Action::Type('p'),
                Action::End,
                Action::Type('!'),
            ],
        );
        assert_eq!(f.text(), "prod!");
        let f = field(
            "abc",
            &[Action::Home, Action::Delete, Action::Right, Action::Erase],
        );
        assert_eq!(f.text(), "c");
    }

    #[test]
    fn ctrl_u_clears_to_the_start_and_ctrl_w_takes_the_word_before_the_cursor() {
        let f = field("/media/usb/batch.txt", &[Action::KillWord]);
        assert_eq!(f.text(), "/media/usb/");
        let f = field("/media/usb/", &[Action::KillWord]);
        assert_eq!(f.text(), "/media/usb");
        let f = field("one two  ", &[Action::KillWord]);
        assert_eq!(f.text(), "one ");
        let f = field("keep this", &[Action::Left, Action::Left, Action::KillLine]);
        assert_eq!(f.text(), "is");
        let f = field("café", &[Action::Erase, Action::Type('e')]);
        assert_eq!(f.text(), "cafe");
    }

    #[test]
    fn tab_completes_a_unique_name_then_the_shared_part_then_lists_the_choices() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("usb-stick")).unwrap();
        std::fs::write(dir.path().join("usb-stick/prod-east.csr"), "").unwrap();
        std::fs::write(dir.path().join("usb-stick/prod-west.csr"), "").unwrap();
        std::fs::write(dir.path().join("usb-stick/.hidden"), "").unwrap();
        let mut f = TextField::new("us");
        assert_eq!(f.complete_path(dir.path()), Completion::Completed);
        assert_eq!(f.text(), "usb-stick/");
        assert_eq!(f.complete_path(dir.path()), Completion::Completed);
        assert_eq!(f.text(), "usb-stick/prod-");
        assert_eq!(
            f.complete_path(dir.path()),
            Completion::Choices(vec!["prod-east.csr".into(), "prod-west.csr".into()])
        );
        f.edit(Action::Type('w'));
        assert_eq!(f.complete_path(dir.path()), Completion::Completed);
        assert_eq!(f.text(), "usb-stick/prod-west.csr");
        assert_eq!(f.complete_path(dir.path()), Completion::Nothing);
        let mut abs = TextField::new(&format!("{}/usb-stick/prod-e", dir.path().display()));
        assert_eq!(abs.complete_path(Path::new("/")), Completion::Completed);
        assert!(abs.text().ends_with("/usb-stick/prod-east.csr"));
        let mut none = TextField::new("nothing-here");
        assert_eq!(none.complete_path(dir.path()), Completion::Nothing);
        assert_eq!(none.text(), "nothing-here");
    }
}
