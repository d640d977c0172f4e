//! The JPQL the CLI sends: every user value goes through [`literal`], so none can change a query.

use crate::failure::Failure;

/// A JPQL string literal: quotes doubled; characters XML cannot carry are refused.
pub fn literal(value: &str) -> Result<String, Failure> {
    if value
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    {
        return Err(Failure::usage(
            format!("{value:?} contains control characters"),
            "remove them and try again",
        ));
    }
    Ok(format!("'{}'", value.replace('\'', "''")))
}

/// A comma-separated id list for `IN (...)`.
pub fn id_list(ids: &[i64]) -> String {
    ids.iter()
        .map(i64::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses `YYYY-MM-DD` or `YYYY-MM-DDTHH:MM[:SS]` into a JPQL timestamp literal `{ts ...}`.
pub fn ts_literal(date: &str) -> Result<String, Failure> {
    let bad = || {
        Failure::usage(
            format!("{date:?} is not a date"),
            "write YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS",
        )
    };
    let (day, time) = match date.split_once(['T', ' ']) {
        Some((d, t)) => (d, t),
        None => (date, "00:00:00"),
    };
    let d: Vec<&str> = day.split('-').collect();
    let t: Vec<&str> = time.split(':').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_digit());
    if d.len() != 3 || !digits(d[0], 4) || !digits(d[1], 2) || !digits(d[2], 2) {
        return Err(bad());
    }
    if !(2..=3).contains(&t.len()) || !t.iter().all(|p| digits(p, 2)) {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().unwrap_or(99);
    if !(1..=12).contains(&num(d[1]))
        || !(1..=31).contains(&num(d[2]))
        || num(t[0]) > 23
        || num(t[1]) > 59
    {
        return Err(bad());
    }
    let secs = t.get(2).copied().unwrap_or("00");
    Ok(format!(
        "{{ts {}-{}-{} {}:{}:{}}}",
        d[0], d[1], d[2], t[0], t[1], secs
    ))
}

/// Filters for `icat visits`.
#[derive(Clone, Debug, Default)]
pub struct VisitFilter {
    /// Instrument name or full name.
    pub instrument: Option<String>,
    /// Start date lower bound (`YYYY-MM-DD...`).
    pub since: Option<String>,
    /// Only the caller's visits.
    pub mine: bool,
}

/// One query for the visit list: id, visit id, name, title, start date, dataset count, total size.
pub fn visits_query(filter: &VisitFilter) -> Result<String, Failure> {
    let mut q = String::from(
        "SELECT i.id, i.visitId, i.name, i.title, i.startDate, COUNT(DISTINCT ds.id), SUM(df.fileSize) \
         FROM Investigation i LEFT JOIN i.datasets ds LEFT JOIN ds.datafiles df",
    );
    let mut conditions = Vec::new();
    if let Some(inst) = &filter.instrument {
        q.push_str(" JOIN i.investigationInstruments ii JOIN ii.instrument inst");
        let l = literal(inst)?;
        conditions.push(format!("(inst.name = {l} OR inst.fullName = {l})"));
    }
    if filter.mine {
        q.push_str(" JOIN i.investigationUsers iu JOIN iu.user u");
        conditions.push("u.name = :user".to_string());
    }
    if let Some(since) = &filter.since {
        conditions.push(format!("i.startDate >= {}", ts_literal(since)?));
    }
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    q.push_str(
        " GROUP BY i.id, i.visitId, i.name, i.title, i.startDate ORDER BY i.startDate DESC, i.id",
    );
    Ok(q)
}

/// The condition picking a visit: by visit id or investigation name, or by numeric id.
pub fn visit_condition(alias: &str, visit: &str) -> Result<String, Failure> {
    let l = literal(visit)?;
    let mut cond = format!("{alias}.visitId = {l} OR {alias}.name = {l}");
    if let Ok(id) = visit.parse::<i64>() {
        cond.push_str(&format!(" OR {alias}.id = {id}"));
    }
    Ok(format!("({cond})"))
}

/// The visit with its datasets and datafiles, in one query.
pub fn show_query(visit: &str) -> Result<String, Failure> {
    Ok(format!(
        "SELECT i FROM Investigation i WHERE {} ORDER BY i.id \
         INCLUDE i.datasets ds, ds.datafiles",
        visit_condition("i", visit)?
    ))
}

/// What a download, status or restore acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// A visit, by visit id, name or investigation id.
    Visit(String),
    /// An investigation by id (a visit after resolution).
    Investigation(i64),
    /// Dataset ids.
    Datasets(Vec<i64>),
    /// Datafile ids.
    Datafiles(Vec<i64>),
}

/// The datafiles of a target with their dataset and investigation, ordered for stable output.
pub fn datafiles_query(target: &Target) -> Result<String, Failure> {
    let cond = match target {
        Target::Visit(v) => visit_condition("i", v)?,
        Target::Investigation(id) => format!("i.id = {id}"),
        Target::Datasets(ids) => format!("ds.id IN ({})", id_list(ids)),
        Target::Datafiles(ids) => format!("df.id IN ({})", id_list(ids)),
    };
    Ok(format!(
        "SELECT df FROM Datafile df JOIN df.dataset ds JOIN ds.investigation i WHERE {cond} \
         ORDER BY i.id, ds.id, df.id INCLUDE df.dataset ds, ds.investigation"
    ))
}

/// The investigations a visit name or id refers to (id, visit id, name).
pub fn visit_ids_query(visit: &str) -> Result<String, Failure> {
    Ok(format!(
        "SELECT i.id, i.visitId, i.name FROM Investigation i WHERE {} ORDER BY i.id",
        visit_condition("i", visit)?
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_values_stay_literals() {
        assert_eq!(literal("O'Brien").unwrap(), "'O''Brien'");
        assert_eq!(literal("x' OR '1'='1").unwrap(), "'x'' OR ''1''=''1'");
        assert!(literal("a\u{0}b").is_err());
        let q = visits_query(&VisitFilter {
            instrument: Some("I'11".into()),
            ..Default::default()
        })
        .unwrap();
        assert!(
            q.contains("inst.name = 'I''11' OR inst.fullName = 'I''11'"),
            "{q}"
        );
    }

    #[test]
    fn dates() {
        assert_eq!(
            ts_literal("2024-03-01").unwrap(),
            "{ts 2024-03-01 00:00:00}"
        );
        assert_eq!(
            ts_literal("2024-03-01T12:30").unwrap(),
            "{ts 2024-03-01 12:30:00}"
        );
        assert_eq!(
            ts_literal("2024-03-01 12:30:05").unwrap(),
            "{ts 2024-03-01 12:30:05}"
        );
        for bad in [
            "yesterday",
            "2024-3-1",
            "2024-13-01",
            "2024-01-01T25:00",
            "2024-01-01'",
        ] {
            assert!(ts_literal(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn visits_query_shapes() {
        let q = visits_query(&VisitFilter::default()).unwrap();
        assert!(!q.contains("WHERE"));
        assert!(q.starts_with("SELECT i.id, i.visitId"));
        let q = visits_query(&VisitFilter {
            mine: true,
            since: Some("2020-01-01".into()),
            instrument: None,
        })
        .unwrap();
        assert!(
            q.contains("WHERE u.name = :user AND i.startDate >= {ts 2020-01-01 00:00:00}"),
            "{q}"
        );
    }

    #[test]
    fn visit_conditions() {
        assert_eq!(
            visit_condition("i", "42").unwrap(),
            "(i.visitId = '42' OR i.name = '42' OR i.id = 42)"
        );
        assert_eq!(
            visit_condition("i", "1.1-N").unwrap(),
            "(i.visitId = '1.1-N' OR i.name = '1.1-N')"
        );
        let q = datafiles_query(&Target::Datasets(vec![1, 2])).unwrap();
        assert!(q.contains("ds.id IN (1, 2)"), "{q}");
    }
}
