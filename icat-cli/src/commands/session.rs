//! `icat login`, `icat logout`, `icat whoami`.

use std::io::Write;

use serde::Serialize;

use crate::app::Context;
use crate::connect::{self, Connection, Reuse, minutes_left};
use crate::failure::Failure;
use crate::output::{Format, to_json};
use crate::session_cache::{SessionCache, short_id};

/// `icat login`: always logs in anew and stores the session.
pub async fn login(ctx: &Context, out: &mut dyn Write) -> anyhow::Result<Connection> {
    let conn = connect::connect(ctx, Reuse::AlwaysLogin).await?;
    writeln!(
        out,
        "logged in as {} at {} (session {}, {:.0} minutes)",
        conn.server_user,
        conn.url,
        short_id(&conn.cached.session_id),
        minutes_left(&conn.session)
    )?;
    Ok(conn)
}

/// `icat logout`: ends the stored session on the server and removes it from the cache.
pub async fn logout(ctx: &Context, out: &mut dyn Write) -> anyhow::Result<()> {
    let settings = connect::settings(ctx)?;
    let cache = SessionCache::from_env(&ctx.env)?;
    let Some(entry) = connect::find_cached(&settings, &cache) else {
        return Err(Failure::auth("not logged in (no stored session)", "nothing to do").into());
    };
    let ca_file = settings.ca_file.clone().or_else(|| entry.ca_file.clone());
    let client = connect::icat_client(
        &entry.url,
        entry.check_cert,
        ca_file.as_ref(),
        &settings.network,
    )?;
    let ended = match client.resume(&entry.session_id, None).await {
        Ok(session) => {
            session.logout().await?;
            true
        }
        Err(e) if e.is_session() => false,
        Err(e) => return Err(e.into()),
    };
    cache.remove(&entry.url, &entry.auth, &entry.username)?;
    if ended {
        writeln!(out, "logged out {} from {}", entry.server_user, entry.url)?;
    } else {
        writeln!(
            out,
            "the session of {} at {} had already expired; forgot it",
            entry.server_user, entry.url
        )?;
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
    /// Minutes until the session expires.
    pub minutes_left: f64,
}

/// `icat whoami`: the user and minutes left of the stored session (one request).
pub async fn whoami(ctx: &Context, format: Format, out: &mut dyn Write) -> anyhow::Result<()> {
    let conn = connect::connect(ctx, Reuse::CachedOnly).await?;
    let who = WhoAmI {
        user: conn.server_user.clone(),
        url: conn.url.clone(),
        idsurl: conn.idsurl.clone(),
        minutes_left: (minutes_left(&conn.session) * 10.0).round() / 10.0,
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
                format!("{:.1}", who.minutes_left),
            ]);
            out.write_all(t.render_csv().as_bytes())?;
        }
        Format::Table => writeln!(
            out,
            "{} at {}, {:.0} minutes left",
            who.user, who.url, who.minutes_left
        )?,
    }
    Ok(())
}
