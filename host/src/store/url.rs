//! Which database: `CLAW_DATABASE_URL` (as [`Home::from_env`] read it),
//! else `database_url` in the configuration, else a SQLite file under the
//! data directory.

use crate::config::Config;
use crate::home::Home;
use crate::problem::Problem;
use std::path::PathBuf;

/// A database URL (kept whole for connecting; shown only redacted).
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl(String);

impl std::fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Parse and check the scheme.
    ///
    /// # Errors
    ///
    /// A [`Problem`] for a scheme other than sqlite or postgres.
    pub fn parse(url: &str) -> Result<DatabaseUrl, Problem> {
        let url = url.trim();
        if url.starts_with("sqlite:") || url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(DatabaseUrl(url.to_string()))
        } else {
            Err(Problem::new(format!("`{}` is not a database URL claw supports", redact(url)))
                .hint("use sqlite:///path/to/claw.db or postgres://user@host/db"))
        }
    }

    /// Resolve for a home: its override, its configuration, its data
    /// directory — never the process environment (a [`Home::at`] a
    /// directory means that directory's database).
    ///
    /// # Errors
    ///
    /// A bad URL or configuration file.
    pub fn resolve(home: &Home) -> Result<DatabaseUrl, Problem> {
        if let Some(url) = home.database_url_override() {
            return DatabaseUrl::parse(url);
        }
        if let Some(url) = Config::load(home)?.database_url {
            return DatabaseUrl::parse(&url);
        }
        Ok(DatabaseUrl(format!("sqlite://{}", home.data.join("claw.db").display())))
    }

    /// The full URL (for connecting only).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether it names PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.0.starts_with("postgres")
    }

    /// The SQLite file, if it is one.
    pub fn sqlite_path(&self) -> Option<PathBuf> {
        let rest = self.0.strip_prefix("sqlite://").or_else(|| self.0.strip_prefix("sqlite:"))?;
        let path = rest.split('?').next().unwrap_or(rest);
        (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
    }

    /// The URL with any password replaced by `***`.
    pub fn redacted(&self) -> String {
        redact(&self.0)
    }
}

/// Replace the password in `scheme://user:password@host/...` with `***`.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else { return url.to_string() };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_never_show() {
        assert_eq!(redact("postgres://claw:hunter2@db:5432/claw"), "postgres://claw:***@db:5432/claw");
        assert_eq!(redact("postgres://claw@db/claw"), "postgres://claw@db/claw");
        let u = DatabaseUrl::parse("postgres://a:p%40ss@h/d").unwrap();
        assert!(!format!("{u:?}").contains("p%40ss"));
        assert!(DatabaseUrl::parse("mysql://x").is_err());
        assert_eq!(
            DatabaseUrl::parse("sqlite:///tmp/x.db?mode=rwc").unwrap().sqlite_path(),
            Some(PathBuf::from("/tmp/x.db"))
        );
    }
}
