//! The `get` operation's query: `Entity [[AS] var] [INCLUDE ...]`, with INCLUDE paths from variables
//! (`ds.datafiles df, df.parameters`), `INCLUDE 1`, or the old form naming types (`INCLUDE Datafile`).

use std::collections::{BTreeMap, VecDeque};

use crate::icat::db::{Include, Schema};
use crate::icat::error::IcatError;

/// A parsed `get` query: which entity, and which relations to include.
#[derive(Debug, Clone, PartialEq)]
pub struct GetQuery {
    /// The entity name.
    pub entity: String,
    /// Relations to fill.
    pub include: Include,
}

fn tokens(query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in query.chars() {
        if c == ',' || c.is_whitespace() {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            if c == ',' {
                out.push(",".into());
            }
        } else {
            cur.push(c);
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

/// Parses a `get` query against the schema.
pub fn parse(query: &str, schema: &Schema) -> Result<GetQuery, IcatError> {
    let toks = tokens(query);
    let mut pos = 0;
    let entity = toks
        .first()
        .ok_or_else(|| IcatError::bad_parameter("the get query is empty"))?
        .clone();
    let table = schema
        .table(&entity)
        .ok_or_else(|| IcatError::bad_parameter(format!("{entity} is not an ICAT entity")))?;
    pos += 1;
    let is_kw = |t: Option<&String>, kw: &str| t.is_some_and(|t| t.eq_ignore_ascii_case(kw));
    let mut var = None;
    if is_kw(toks.get(pos), "AS") {
        pos += 1;
    }
    if let Some(t) = toks.get(pos)
        && !t.eq_ignore_ascii_case("INCLUDE")
    {
        var = Some(t.clone());
        pos += 1;
    }
    let mut include = Include::none();
    if pos == toks.len() {
        return Ok(GetQuery { entity, include });
    }
    if !is_kw(toks.get(pos), "INCLUDE") {
        return Err(IcatError::bad_parameter(format!(
            "Expected INCLUDE but found {} in get query '{query}'",
            toks[pos]
        )));
    }
    pos += 1;
    let items: Vec<Vec<String>> = toks[pos..]
        .split(|t| t == ",")
        .map(|s| s.to_vec())
        .collect();
    if items.iter().any(|i| i.is_empty()) {
        return Err(IcatError::bad_parameter(format!(
            "Empty INCLUDE item in get query '{query}'"
        )));
    }
    if items.len() == 1 && items[0].len() == 1 && items[0][0] == "1" {
        return Ok(GetQuery {
            include: Include::all_ones(table),
            entity,
        });
    }
    let dotted = items.iter().any(|i| i[0].contains('.'));
    if dotted {
        let root = var.ok_or_else(|| {
            IcatError::bad_parameter(format!(
                "INCLUDE paths need a variable after {entity} in '{query}'"
            ))
        })?;
        // variable -> (entity, path of fields from the root)
        let mut vars: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
        vars.insert(root.clone(), (entity.clone(), vec![]));
        for item in &items {
            let mut parts = item[0].split('.');
            let head = parts.next().unwrap_or_default();
            let (mut cur_entity, mut path) = vars.get(head).cloned().ok_or_else(|| {
                IcatError::bad_parameter(format!("Unknown variable {head} in INCLUDE of '{query}'"))
            })?;
            for step in parts {
                let t = schema
                    .table(&cur_entity)
                    .ok_or_else(|| IcatError::internal(format!("no table for {cur_entity}")))?;
                let target = t
                    .ones
                    .iter()
                    .find(|o| o.name == step)
                    .map(|o| o.target)
                    .or_else(|| t.many(step).map(|m| m.target))
                    .ok_or_else(|| {
                        IcatError::bad_parameter(format!(
                            "{step} is not a relationship of {cur_entity}"
                        ))
                    })?;
                path.push(step.to_string());
                cur_entity = target.to_string();
            }
            include.add_path(path.iter().map(String::as_str));
            let alias = match item.len() {
                1 => None,
                2 => Some(item[1].clone()),
                3 if item[1].eq_ignore_ascii_case("AS") => Some(item[2].clone()),
                _ => {
                    return Err(IcatError::bad_parameter(format!(
                        "Unexpected {} in INCLUDE of '{query}'",
                        item.last().cloned().unwrap_or_default()
                    )));
                }
            };
            if let Some(alias) = alias {
                if vars.contains_key(&alias) {
                    return Err(IcatError::bad_parameter(format!(
                        "Variable {alias} is defined twice in '{query}'"
                    )));
                }
                vars.insert(alias, (cur_entity, path));
            }
        }
    } else {
        let wanted: Vec<String> = items
            .iter()
            .map(|i| {
                if i.len() != 1 {
                    Err(IcatError::bad_parameter(format!(
                        "Unexpected {} in INCLUDE of '{query}'",
                        i[1]
                    )))
                } else {
                    Ok(i[0].clone())
                }
            })
            .collect::<Result<_, _>>()?;
        for ty in &wanted {
            let path = route(schema, &entity, ty, &wanted)?;
            include.add_path(path.iter().map(String::as_str));
        }
    }
    Ok(GetQuery { entity, include })
}

/// The unique shortest relation path from `from` to `to` through the listed types (old INCLUDE form).
fn route(
    schema: &Schema,
    from: &str,
    to: &str,
    allowed: &[String],
) -> Result<Vec<String>, IcatError> {
    if schema.table(to).is_none() {
        return Err(IcatError::bad_parameter(format!(
            "{to} is not an ICAT entity"
        )));
    }
    let mut queue = VecDeque::from([(from.to_string(), Vec::<String>::new())]);
    let mut found: Vec<Vec<String>> = Vec::new();
    while let Some((cur, path)) = queue.pop_front() {
        if found.first().is_some_and(|f| path.len() >= f.len()) {
            break;
        }
        let Some(t) = schema.table(&cur) else {
            continue;
        };
        let steps = t
            .ones
            .iter()
            .map(|o| (o.name, o.target))
            .chain(t.manys.iter().map(|m| (m.name, m.target)));
        for (field, target) in steps {
            if path.len() >= 6 || (target != to && !allowed.iter().any(|a| a == target)) {
                continue;
            }
            let mut next = path.clone();
            next.push(field.to_string());
            if target == to {
                found.push(next);
            } else {
                queue.push_back((target.to_string(), next));
            }
        }
    }
    match found.len() {
        1 => Ok(found.remove(0)),
        0 => Err(IcatError::bad_parameter(format!(
            "There is no route from {from} to {to}"
        ))),
        _ => Err(IcatError::bad_parameter(format!(
            "There is more than one route from {from} to {to}"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        Schema::new(crate::entities())
    }

    fn paths(inc: &Include, prefix: &str, out: &mut Vec<String>) {
        for (k, v) in &inc.fields {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.push(p.clone());
            paths(v, &p, out);
        }
    }

    fn parsed(q: &str) -> (String, Vec<String>) {
        let g = parse(q, &schema()).unwrap();
        let mut out = Vec::new();
        paths(&g.include, "", &mut out);
        (g.entity, out)
    }

    #[test]
    fn forms_of_get_queries() {
        assert_eq!(parsed("Dataset"), ("Dataset".into(), vec![]));
        assert_eq!(
            parsed("Dataset ds INCLUDE ds.datafiles df, df.parameters, ds.type").1,
            vec!["datafiles", "datafiles.parameters", "type"]
        );
        assert_eq!(
            parsed("Dataset AS ds include ds.datafiles.datafileFormat").1,
            vec!["datafiles", "datafiles.datafileFormat"]
        );
        let (_, ones) = parsed("Dataset INCLUDE 1");
        assert!(
            ones.contains(&"investigation".to_string()) && !ones.contains(&"datafiles".to_string())
        );
        assert_eq!(
            parsed("Dataset INCLUDE Datafile, DatafileParameter").1,
            vec!["datafiles", "datafiles.parameters"]
        );
    }

    #[test]
    fn bad_get_queries() {
        let s = schema();
        for q in [
            "Nonsense",
            "",
            "Dataset ds INCLUDE x.datafiles",
            "Dataset ds INCLUDE ds.nothing",
            "Dataset ds WHERE",
        ] {
            let e = parse(q, &s).unwrap_err();
            assert_eq!(
                e.kind,
                crate::icat::error::IcatErrorKind::BadParameter,
                "{q}"
            );
        }
    }
}
