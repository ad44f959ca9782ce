//! The operator's configuration file, `$CONFIG/config.toml`. Every key is
//! optional; an unknown key or a bad value is an error naming the line.
//!
//! ```toml
//! database_url = "postgres://claw@db.internal/claw"   # default: SQLite under the data dir
//! ```

use crate::home::Home;
use crate::problem::Problem;
use serde::Deserialize;
use std::path::PathBuf;

/// The parsed configuration.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the store lives (`sqlite://...` or `postgres://...`).
    pub database_url: Option<String>,
}

impl Config {
    /// The configuration file's path.
    pub fn path(home: &Home) -> PathBuf {
        home.config.join("config.toml")
    }

    /// Read the configuration (defaults when the file does not exist).
    ///
    /// # Errors
    ///
    /// A [`Problem`] naming the file and line of a parse error.
    pub fn load(home: &Home) -> Result<Config, Problem> {
        let path = Config::path(home);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(Problem::new(format!("cannot read {}: {e}", path.display()))),
        };
        toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| text[..s.start].matches('\n').count() + 1);
            let at = line.map_or(String::new(), |l| format!(":{l}"));
            Problem::new(format!("{}{at}: {}", path.display(), e.message().trim()))
                .hint("the keys claw reads are listed in `host/src/config.rs`; e.g. database_url = \"postgres://...\"")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_is_defaults_and_bad_keys_name_the_line() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::at(dir.path());
        assert_eq!(Config::load(&home).unwrap(), Config::default());
        std::fs::create_dir_all(&home.config).unwrap();
        std::fs::write(Config::path(&home), "database_url = \"sqlite://x\"\n\ndatabse = 1\n").unwrap();
        let e = Config::load(&home).unwrap_err().to_string();
        assert!(e.contains("config.toml:3:") && e.contains("databse"), "{e}");
    }
}
