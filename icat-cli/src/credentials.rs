//! Building login credentials: the password from `--password-stdin`, the config file or a no-echo prompt.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal};

use crate::config::{Secret, Settings};
use crate::failure::Failure;

/// Where the password may come from, in order: `--password-stdin`, the config file, a prompt.
pub struct PasswordSources<'a> {
    /// `--password-stdin` was given.
    pub from_stdin: bool,
    /// Reads one line from standard input.
    pub read_stdin: &'a mut dyn FnMut() -> std::io::Result<String>,
    /// Whether an interactive prompt is possible.
    pub can_prompt: bool,
    /// Prompts without echo.
    pub prompt: &'a mut dyn FnMut(&str) -> std::io::Result<String>,
}

impl PasswordSources<'_> {
    /// Runs `f` with the real stdin and terminal prompt.
    pub fn with_real<R>(from_stdin: bool, f: impl FnOnce(&mut PasswordSources<'_>) -> R) -> R {
        let mut read_stdin = || {
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line)
        };
        let mut prompt = |text: &str| rpassword::prompt_password(text);
        let mut sources = PasswordSources {
            from_stdin,
            read_stdin: &mut read_stdin,
            can_prompt: std::io::stdin().is_terminal() || std::io::stderr().is_terminal(),
            prompt: &mut prompt,
        };
        f(&mut sources)
    }
}

/// The credentials map for `login`: `username`, `password` (when a user name is set) and any
/// `cred_<key>` extras. Anonymous logins (no user name) send only the extras.
pub fn build_credentials(
    settings: &Settings,
    host: &str,
    sources: &mut PasswordSources<'_>,
) -> Result<BTreeMap<String, Secret>, Failure> {
    let mut creds: BTreeMap<String, Secret> = settings
        .credentials
        .iter()
        .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
        .collect();
    let Some(user) = &settings.username else {
        if sources.from_stdin {
            return Err(Failure::usage(
                "--password-stdin given but no user name",
                "add -u NAME (or username in the config section)",
            ));
        }
        return Ok(creds);
    };
    creds.insert("username".into(), Secret::new(user.clone()));
    let password = if sources.from_stdin {
        let line = (sources.read_stdin)().map_err(|e| {
            Failure::usage(
                format!("cannot read the password from stdin: {e}"),
                "pipe it in, e.g. `pass show icat | icat login --password-stdin`",
            )
        })?;
        let pw = line.trim_end_matches(['\r', '\n']).to_string();
        if pw.is_empty() {
            return Err(Failure::usage(
                "--password-stdin given but standard input was empty",
                "pipe the password in on the first line",
            ));
        }
        Secret::new(pw)
    } else if let Some(pw) = settings.password.clone().filter(|_| !settings.prompt_pass) {
        pw
    } else if sources.can_prompt {
        let pw = (sources.prompt)(&format!("Password for {user} at {host}: ")).map_err(|e| {
            Failure::auth(
                format!("cannot read the password: {e}"),
                "use --password-stdin",
            )
        })?;
        Secret::new(pw)
    } else {
        return Err(Failure::auth(
            format!("no password for {user} and no terminal to ask on"),
            "use --password-stdin, or a config file section with a password",
        ));
    };
    creds.insert("password".into(), password);
    Ok(creds)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(user: Option<&str>, password: Option<&str>) -> Settings {
        Settings {
            url: Some("http://h/ICATService/ICAT".into()),
            idsurl: None,
            auth: Some("db".into()),
            username: user.map(String::from),
            username_source: None,
            password: password.map(Secret::new),
            prompt_pass: false,
            check_cert: true,
            ca_file: None,
            credentials: BTreeMap::new(),
            section: None,
            warnings: vec![],
            network: crate::config::Network::default(),
        }
    }

    fn run(
        s: &Settings,
        from_stdin: bool,
        stdin: &str,
        can_prompt: bool,
    ) -> (Result<BTreeMap<String, Secret>, Failure>, bool) {
        let mut prompted = false;
        let stdin = stdin.to_string();
        let mut read = || Ok(stdin.clone());
        let mut prompt = |_: &str| {
            prompted = true;
            Ok("typed".to_string())
        };
        let mut sources = PasswordSources {
            from_stdin,
            read_stdin: &mut read,
            can_prompt,
            prompt: &mut prompt,
        };
        let r = build_credentials(s, "h", &mut sources);
        (r, prompted)
    }

    #[test]
    fn stdin_beats_file_beats_prompt() {
        let s = settings(Some("jdoe"), Some("fromfile"));
        let (r, prompted) = run(&s, true, "piped\n", true);
        assert_eq!(r.unwrap()["password"].expose(), "piped");
        assert!(!prompted);
        let (r, prompted) = run(&s, false, "", true);
        assert_eq!(r.unwrap()["password"].expose(), "fromfile");
        assert!(!prompted);
        let s = settings(Some("jdoe"), None);
        let (r, prompted) = run(&s, false, "", true);
        assert_eq!(r.unwrap()["password"].expose(), "typed");
        assert!(prompted);
    }

    #[test]
    fn no_terminal_and_no_password_is_an_auth_error() {
        let s = settings(Some("jdoe"), None);
        let (r, _) = run(&s, false, "", false);
        let err = r.unwrap_err();
        assert_eq!(err.kind, crate::failure::ExitKind::Auth);
        assert!(err.to_string().contains("--password-stdin"));
    }

    #[test]
    fn anonymous_login_sends_only_extras() {
        let mut s = settings(None, None);
        s.credentials.insert("token".into(), "t".into());
        let (r, prompted) = run(&s, false, "", true);
        let creds = r.unwrap();
        assert_eq!(creds.len(), 1);
        assert!(!prompted);
    }

    #[test]
    fn empty_stdin_is_refused() {
        let s = settings(Some("jdoe"), None);
        let (r, _) = run(&s, true, "\n", true);
        assert!(r.is_err());
    }
}
