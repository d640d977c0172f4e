//! The access-control hook: per-entity read restrictions embedded into compiled queries.

use rusqlite::types::Value;

/// A read restriction on one entity type (access-control hook; ICAT's rule `searchJPQL`). It is
/// applied, as ICAT does, to every entity a top-level select item is or belongs to: `SELECT ds`,
/// `SELECT ds.name` and `SELECT COUNT(ds)` restrict `ds`; `SELECT ds.investigation` restricts the
/// investigation. Variables used only in FROM, WHERE or subqueries are not restricted.
#[derive(Debug, Clone, PartialEq)]
pub enum Restriction {
    /// The user may read nothing of this type: the query returns nothing.
    DenyAll,
    /// The user may read the rows whose id is returned by `sql`, a `SELECT` of one id column that
    /// uses `?1`, `?2`, ... (or plain `?`) for `params`. Placeholders are renumbered on embedding.
    IdsIn {
        /// The id-returning subquery.
        sql: String,
        /// Its bound values, in placeholder order.
        params: Vec<Value>,
        /// Parameters that hold the clock (`CURRENT_TIMESTAMP`, ...): they are re-bound from
        /// [`super::CompileOptions::now_millis`] each time the restriction is embedded, so a
        /// restriction compiled once stays correct as time passes.
        clock: Vec<ClockParam>,
    },
}

/// A bound parameter that holds a value of the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockParam {
    /// Index into the parameter list (0-based: `params[index]` binds `?{index+1}`).
    pub index: usize,
    /// Which value of the clock.
    pub kind: ClockKind,
}

/// The clock functions of JPQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockKind {
    /// `CURRENT_TIMESTAMP`: epoch milliseconds.
    Timestamp,
    /// `CURRENT_DATE`: midnight UTC of today, in epoch milliseconds.
    Date,
    /// `CURRENT_TIME`: milliseconds since midnight UTC.
    Time,
}

impl ClockKind {
    /// The value at `now_millis`.
    pub fn value(self, now_millis: i64) -> i64 {
        const DAY: i64 = 86_400_000;
        match self {
            ClockKind::Timestamp => now_millis,
            ClockKind::Date => now_millis.div_euclid(DAY) * DAY,
            ClockKind::Time => now_millis.rem_euclid(DAY),
        }
    }
}

impl Restriction {
    /// The rows allowed by any of `parts` (an SQL `UNION ALL` of the id sets: the restriction is
    /// only ever used as a set, `id IN (...)` or a correlated `EXISTS`, and unlike `UNION` it lets
    /// SQLite flatten a correlated check into each part); [`Restriction::DenyAll`] when there are
    /// none.
    pub fn any_of(parts: impl IntoIterator<Item = Restriction>) -> Restriction {
        let mut sqls = Vec::new();
        let mut all_params = Vec::new();
        let mut all_clock = Vec::new();
        for part in parts {
            if let Restriction::IdsIn { sql, params, clock } = part {
                let offset = all_params.len();
                sqls.push(renumber(&sql, offset));
                all_clock.extend(clock.into_iter().map(|c| ClockParam {
                    index: c.index + offset,
                    ..c
                }));
                all_params.extend(params);
            }
        }
        if sqls.is_empty() {
            Restriction::DenyAll
        } else {
            Restriction::IdsIn {
                sql: sqls.join(" UNION ALL "),
                params: all_params,
                clock: all_clock,
            }
        }
    }

    /// The parameters with the clock values re-bound for `now_millis`.
    pub fn params_at(params: &[Value], clock: &[ClockParam], now_millis: i64) -> Vec<Value> {
        let mut out = params.to_vec();
        for c in clock {
            if let Some(slot) = out.get_mut(c.index) {
                *slot = Value::Integer(c.kind.value(now_millis));
            }
        }
        out
    }
}

/// Shifts the placeholders of an embedded SQL fragment by `offset` (`?N` -> `?{N+offset}`, a plain
/// `?` numbered as SQLite does), leaving quoted text alone.
pub(crate) fn renumber(sql: &str, offset: usize) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut chars = sql.chars().peekable();
    let mut largest = 0;
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(qc) = quote {
            out.push(c);
            if c == qc {
                quote = None;
            }
            continue;
        }
        match c {
            '\'' | '"' => {
                quote = Some(c);
                out.push(c);
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                    digits.push(*d);
                    chars.next();
                }
                // SQLite numbering: a plain `?` is one more than the largest number so far.
                let n = if digits.is_empty() {
                    largest + 1
                } else {
                    digits.parse::<usize>().unwrap_or(0)
                };
                largest = largest.max(n);
                out.push_str(&format!("?{}", n + offset));
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn renumber_shifts_numbered_and_plain_placeholders_outside_quotes() {
        assert_eq!(renumber("a = ?1 AND b = ?2", 3), "a = ?4 AND b = ?5");
        assert_eq!(renumber("a = ? AND '?' = ?", 2), "a = ?3 AND '?' = ?4");
        assert_eq!(renumber("\"x?\" = ?", 0), "\"x?\" = ?1");
        assert_eq!(
            renumber("a = ?2 AND b = ? AND c = ?1", 1),
            "a = ?3 AND b = ?4 AND c = ?2"
        );
    }
}
