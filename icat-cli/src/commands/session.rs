//! `icat login`, `icat logout`, `icat whoami`, `icat sessions`.

use std::io::Write;

use serde::Serialize;

use crate::connect::{self, Connection, Reuse, minutes_left, now_ms, whole_minutes};
use crate::context::Context;
use crate::failure::Failure;
use crate::output::{Format, to_json};
use crate::session_cache::{CachedSession, SessionCache, short_id};

/// `icat login`: always logs in anew, stores the session and makes it the default.
pub async fn login(ctx: &Context, out: &mut dyn Write) -> anyhow::Result<Connection> {
    let conn = connect::connect(ctx, Reuse::AlwaysLogin).await?;
    writeln!(
        out,
        "logged in as {} at {} (session {}, {})",
        conn.server_user,
        conn.url,
        short_id(&conn.cached.session_id),
        crate::grammar::count(
            whole_minutes(minutes_left(&conn.session)) as u64,
            "minute",
            "minutes"
        )
    )?;
    Ok(conn)
}

/// Ends a stored session on the server (if it is still alive); returns whether it was alive.
async fn end_session(ctx: &Context, entry: &CachedSession) -> anyhow::Result<bool> {
    let settings = connect::settings(ctx)?;
    let ca_file = settings.ca_file.clone().or_else(|| entry.ca_file.clone());
    // One attempt unless --retries says otherwise: the session is forgotten here whatever the
    // server answers, so retrying only delays the user (and floods the terminal).
    let mut network = settings.network;
    network.retries = Some(network.retries.unwrap_or(0));
    let client = connect::icat_client(&entry.url, entry.check_cert, ca_file.as_ref(), &network)?;
    match client.resume(&entry.session_id, None).await {
        Ok(session) => {
            session.logout().await?;
            Ok(true)
        }
        Err(e) if e.is_session() => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// `icat logout`: ends the chosen session (the default one without `-s`/`-w`) on the server
/// and removes it from the cache; with `--all`, every stored session.
pub async fn logout(ctx: &Context, all: bool, out: &mut dyn Write) -> anyhow::Result<()> {
    let cache = SessionCache::from_env(&ctx.env)?;
    if all {
        let entries = cache.all();
        if entries.is_empty() {
            cache.clear_default()?;
            writeln!(out, "no stored sessions")?;
            return Ok(());
        }
        let mut failed = 0u64;
        for (_, entry) in &entries {
            if let Err(e) = end_session(ctx, entry).await {
                failed += 1;
                ctx.reporter.note(&format!(
                    "warning: could not end the session of {} at {} on the server ({}); forgetting it",
                    entry.server_user,
                    crate::url_text::redact_url(&entry.url),
                    crate::exit_code::describe_error(&e).1
                ));
            }
            cache.remove(&entry.url, &entry.auth, &entry.username)?;
        }
        cache.clear_default()?;
        let logged_out = format!(
            "logged out of {}",
            crate::grammar::count(entries.len() as u64, "session", "sessions")
        );
        if failed == 0 {
            writeln!(out, "{logged_out}")?;
        } else {
            let expire = if failed == 1 {
                "it expires"
            } else {
                "they expire"
            };
            writeln!(
                out,
                "{logged_out} ({failed} could not be ended on the server and may stay alive there until {expire})"
            )?;
        }
        return Ok(());
    }
    let settings = connect::settings(ctx)?;
    cache.prune_expired(now_ms());
    let chosen = connect::choose(&settings, &cache)?;
    let Some(entry) = chosen.as_ref().and_then(|c| c.entry.clone()) else {
        if chosen.as_ref().is_some_and(|c| c.from_default) {
            cache.clear_default()?;
        }
        return Err(Failure::auth(
            "not logged in (no stored session)",
            "nothing to log out; `icat sessions` lists the stored sessions",
        )
        .into());
    };
    // The session is forgotten here whatever the server says: `logout` must leave no session
    // that later commands would use.
    let ended = end_session(ctx, &entry).await;
    cache.remove(&entry.url, &entry.auth, &entry.username)?;
    if cache.default_key().is_some_and(|k| k.names(&entry)) {
        cache.clear_default()?;
    }
    match ended {
        Ok(true) => writeln!(out, "logged out {} from {}", entry.server_user, entry.url)?,
        Ok(false) => writeln!(
            out,
            "the session of {} at {} had already expired; forgot it",
            entry.server_user, entry.url
        )?,
        Err(e) => {
            ctx.reporter.note(&format!(
                "warning: could not end the session on the server ({}); it stays valid there \
                 until it expires",
                crate::exit_code::describe_error(&e).1
            ));
            writeln!(
                out,
                "forgot the session of {} at {} on this computer",
                entry.server_user, entry.url
            )?;
        }
    }
    Ok(())
}

/// What `icat whoami --json` prints.
#[derive(Debug, Serialize)]
pub struct WhoAmI {
    /// The user as the server names it.
    pub user: String,
    /// The ICAT URL.
    pub url: String,
    /// The IDS URL, when known.
    pub idsurl: Option<String>,
    /// Whole minutes until the session expires (rounded as everywhere, see [`whole_minutes`]).
    pub minutes_left: i64,
}

/// `icat whoami`: the user and minutes left of the stored session (one request).
pub async fn whoami(ctx: &Context, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let conn = connect::connect(ctx, Reuse::CachedOnly).await?;
    let who = WhoAmI {
        user: conn.server_user.clone(),
        url: conn.url.clone(),
        idsurl: conn.idsurl.clone(),
        minutes_left: whole_minutes(minutes_left(&conn.session)),
    };
    match format {
        Format::Json => out.write_all(to_json(&who)?.as_bytes())?,
        Format::Csv => {
            let mut t = crate::output::Table::new(&[
                ("user", crate::output::Align::Left),
                ("url", crate::output::Align::Left),
                ("idsurl", crate::output::Align::Left),
                ("minutes_left", crate::output::Align::Right),
            ]);
            t.push(vec![
                who.user,
                who.url,
                who.idsurl.unwrap_or_default(),
                who.minutes_left.to_string(),
            ]);
            out.write_all(t.render_csv().as_bytes())?;
        }
        Format::Table => writeln!(
            out,
            "{} at {}, {} left",
            who.user,
            who.url,
            crate::grammar::count(who.minutes_left.max(0) as u64, "minute", "minutes")
        )?,
    }
    Ok(())
}

/// One row of `icat sessions`.
#[derive(Debug, Serialize)]
pub struct SessionRow {
    /// Whether plain commands use this session (the last `icat login`).
    pub default: bool,
    /// The user as the server names it.
    pub user: String,
    /// The ICAT URL.
    pub url: String,
    /// Minutes left, as estimated when the session was last used.
    pub minutes_left: i64,
    /// Less than a minute left by that estimate: the server may already have ended it (its
    /// remaining time is known to the minute only), so no command should count on it.
    pub expiring: bool,
}

/// `icat sessions`: the stored sessions, which one is the default; expired ones are removed.
pub fn sessions(ctx: &Context, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let cache = SessionCache::from_env(&ctx.env)?;
    let now = now_ms();
    let gone = cache.prune_expired(now);
    if !gone.is_empty() {
        ctx.reporter.note(&format!(
            "removed {}",
            crate::grammar::count(gone.len() as u64, "expired session", "expired sessions")
        ));
    }
    let default = cache.default_key();
    let mut rows: Vec<SessionRow> = cache
        .all()
        .into_iter()
        .map(|(_, s)| SessionRow {
            default: default.as_ref().is_some_and(|k| k.names(&s)),
            minutes_left: whole_minutes((s.expires_at_ms - now) as f64 / 60_000.0),
            expiring: s.expires_at_ms - now < 60_000,
            user: s.server_user,
            url: s.url,
        })
        .collect();
    rows.sort_by(|a, b| (&a.url, &a.user).cmp(&(&b.url, &b.user)));
    match format {
        Format::Json => {
            #[derive(Serialize)]
            struct Doc<'a> {
                sessions: &'a [SessionRow],
            }
            out.write_all(to_json(&Doc { sessions: &rows })?.as_bytes())?;
        }
        Format::Csv | Format::Table => {
            use crate::output::{Align, Table};
            let mut t = Table::new(&[
                ("default", Align::Left),
                ("user", Align::Left),
                ("server", Align::Left),
                ("minutes left", Align::Right),
            ]);
            for r in &rows {
                t.push(vec![
                    if r.default { "*" } else { "" }.to_string(),
                    r.user.clone(),
                    r.url.clone(),
                    if r.expiring && format == Format::Table {
                        "expiring".to_string()
                    } else {
                        r.minutes_left.to_string()
                    },
                ]);
            }
            if format == Format::Csv {
                out.write_all(t.render_csv().as_bytes())?;
            } else if rows.is_empty() {
                writeln!(out, "no stored sessions; run icat login")?;
            } else {
                out.write_all(t.render().as_bytes())?;
            }
        }
    }
    Ok(())
}
