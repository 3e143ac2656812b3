//! A one-line text field with a cursor. Forms and prompts keep one per field, so what was
//! typed stays there until the operator changes it.

use ratatui::text::Span;

use super::theme::Theme;

/// The text and where the cursor is (in characters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TextField {
    text: String,
    cursor: usize,
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
