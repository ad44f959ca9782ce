//! An error a person can act on: what went wrong and, where we know it,
//! the fix. The CLI prints `error:`, the cause chain, then `hint:`.

use std::fmt;

/// A user-facing error with an optional hint naming the fix.
#[derive(Debug)]
pub struct Problem {
    message: String,
    hint: Option<String>,
}

impl Problem {
    /// An error with no hint.
    pub fn new(message: impl Into<String>) -> Self {
        Problem { message: message.into(), hint: None }
    }

    /// Attach the fix.
    #[must_use]
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// The fix, if known.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Problem {}

/// Shorthand: `bail!`-like early return of a [`Problem`].
#[macro_export]
macro_rules! problem {
    ($($arg:tt)*) => { $crate::problem::Problem::new(format!($($arg)*)) };
}
