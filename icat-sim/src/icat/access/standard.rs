//! A typical facility's access rules, as the synthetic facility installs them: reference tables
//! are public; a user reads the investigations they are an `InvestigationUser` of or an
//! instrument scientist for, released investigations, and everything inside those; public steps
//! let INCLUDEs show the people and instruments of a readable investigation.

use icat_soap::dynamic::{AttrValue, DynEntity};

/// Entity types every user may read.
const PUBLIC: [&str; 13] = [
    "Application",
    "DataPublicationType",
    "DatafileFormat",
    "DatasetType",
    "Facility",
    "FacilityCycle",
    "Instrument",
    "InvestigationType",
    "ParameterType",
    "PermissibleStringValue",
    "SampleType",
    "Technique",
    "User",
];

/// The ways a user may reach an investigation, as JPQL conditions on the investigation `i`,
/// with the joins they need (`{i}` is replaced by the path to the investigation).
const INVESTIGATION_GRANTS: [(&str, &str); 3] = [
    (
        "JOIN {i}.investigationUsers AS iu JOIN iu.user AS u",
        "u.name = :user",
    ),
    (
        "JOIN {i}.investigationInstruments AS ii JOIN ii.instrument AS ins \
         JOIN ins.instrumentScientists AS sci JOIN sci.user AS su",
        "su.name = :user",
    ),
    ("", "{i}.releaseDate < CURRENT_TIMESTAMP"),
];

/// Entities inside an investigation, with the path from the entity `o` to its investigation.
const INSIDE: [(&str, &str); 10] = [
    ("Dataset", "o.investigation"),
    ("Datafile", "o.dataset.investigation"),
    ("DatasetParameter", "o.dataset.investigation"),
    ("DatafileParameter", "o.datafile.dataset.investigation"),
    ("InvestigationParameter", "o.investigation"),
    ("InvestigationUser", "o.investigation"),
    ("InvestigationInstrument", "o.investigation"),
    ("Keyword", "o.investigation"),
    ("Sample", "o.investigation"),
    ("Shift", "o.investigation"),
];

/// `(origin, field)` public steps.
const PUBLIC_STEPS: [(&str, &str); 11] = [
    ("Investigation", "investigationUsers"),
    ("Investigation", "investigationInstruments"),
    ("InvestigationUser", "user"),
    ("Instrument", "instrumentScientists"),
    // What free-text search may show with a hit (icat.server `getPublicSearchFields`) and facet
    // (`buildFacetQuery`): whoever reads a dataset or datafile reads these under the rules above.
    ("Datafile", "dataset"),
    ("Dataset", "investigation"),
    ("Dataset", "sample"),
    ("Dataset", "parameters"),
    ("Dataset", "datasetTechniques"),
    ("Investigation", "parameters"),
    ("Investigation", "samples"),
];

/// The `what` of every read rule, in both syntaxes ICAT accepts.
pub fn read_rules() -> Vec<String> {
    let mut out: Vec<String> = PUBLIC.iter().map(|e| (*e).to_string()).collect();
    // The concise form ICAT documents for "my investigations".
    out.push("Investigation <-> InvestigationUser <-> User [name = :user]".to_string());
    for (joins, cond) in &INVESTIGATION_GRANTS[1..] {
        let joins = joins.replace("{i}", "o");
        let cond = cond.replace("{i}", "o");
        out.push(format!("SELECT o FROM Investigation o {joins} WHERE {cond}").replace("  ", " "));
    }
    for (entity, path) in INSIDE {
        for (joins, cond) in INVESTIGATION_GRANTS {
            let joins = joins.replace("{i}", "inv");
            let cond = cond.replace("{i}", "inv");
            out.push(
                format!("SELECT o FROM {entity} o JOIN {path} AS inv {joins} WHERE {cond}")
                    .replace("  ", " "),
            );
        }
    }
    out
}

fn text(v: &str) -> AttrValue {
    AttrValue::String(v.to_string())
}

/// The rule and public step objects to create.
pub fn beans() -> Vec<DynEntity> {
    let mut out = Vec::new();
    for what in read_rules() {
        let mut rule = DynEntity::new("Rule");
        rule.attrs.insert("crudFlags".into(), text("R"));
        rule.attrs.insert("what".into(), text(&what));
        out.push(rule);
    }
    for (origin, field) in PUBLIC_STEPS {
        let mut step = DynEntity::new("PublicStep");
        step.attrs.insert("origin".into(), text(origin));
        step.attrs.insert("field".into(), text(field));
        out.push(step);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_standard_rule_compiles() {
        let rules = super::read_rules();
        assert!(rules.len() > 40, "{}", rules.len());
        for what in rules {
            let rule = crate::icat::access::compile_what(&what, "db/jdoe", 0)
                .unwrap_or_else(|e| panic!("{what}: {e}"));
            assert_eq!(
                rule.restricted,
                what.contains(" WHERE ") || what.contains('[')
            );
        }
    }
}
