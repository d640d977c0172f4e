//! DOIs and data collections as selections: `doi:10.xxxx/yyyy` resolves through ICAT (SOAP
//! searches) to a DataPublication (its content collection), a DataCollection, an Investigation,
//! a Dataset or a Datafile; `--collection ID` to a DataCollection's datafiles.

use std::collections::BTreeSet;

use icat_soap::client::Session;
use icat_soap::model::{DataCollection, DataPublication, Datafile, Dataset, Investigation};
use icat_soap::query::Query;
use serde::Serialize;

use crate::catalog;
use crate::failure::Failure;
use crate::queries::Target;

/// A reference a user cites instead of a visit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reference {
    /// A DOI, without the `doi:` prefix (`10.5286/isis.e.123`).
    Doi(String),
    /// A DataCollection id.
    Collection(i64),
}

impl Reference {
    /// How the user wrote it, for messages and `bag-info.txt`.
    pub fn describe(&self) -> String {
        match self {
            Reference::Doi(d) => format!("doi:{d}"),
            Reference::Collection(id) => format!("collection {id}"),
        }
    }
}

/// The resolver URLs a DOI is written after (case ignored); the text after them is a URL path,
/// so `%2F` stands for `/` there.
const DOI_URLS: [&str; 4] = [
    "https://doi.org/",
    "http://doi.org/",
    "https://dx.doi.org/",
    "http://dx.doi.org/",
];

/// The text after a DOI prefix (`doi:`, `https://doi.org/`, `http://doi.org/`,
/// `https://dx.doi.org/`, `http://dx.doi.org/`, case ignored), whether or not a valid DOI
/// follows; `None` when the text has no such prefix.
pub fn after_doi_prefix(text: &str) -> Option<&str> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    std::iter::once("doi:")
        .chain(DOI_URLS)
        .find(|p| lower.starts_with(*p))
        .map(|p| t[p.len()..].trim())
}

/// The DOI in `doi:10.x/y`, `https://doi.org/10.x/y`, `https://dx.doi.org/10.x/y` (their
/// `http:` forms too; the case of the prefix ignored, `%2F` in a URL read as `/`), or a bare
/// `10.x/y` as DOIs are often pasted; `None` for anything else.
pub fn parse_doi(text: &str) -> Option<String> {
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    let rest = match after_doi_prefix(t) {
        Some(rest) if DOI_URLS.iter().any(|p| lower.starts_with(p)) => {
            rest.replace("%2F", "/").replace("%2f", "/")
        }
        Some(rest) => rest.to_owned(),
        None => t.to_owned(),
    };
    // A DOI is "10.<registrant>/<suffix>" with a non-empty suffix.
    let (prefix, suffix) = rest.split_once('/')?;
    (prefix.starts_with("10.") && prefix.len() > 3 && !suffix.is_empty()).then_some(rest)
}

/// What a reference resolved to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Resolved {
    /// The reference as the user wrote it.
    pub reference: String,
    /// The entity it names: `DataPublication`, `DataCollection`, `Investigation`, `Dataset` or
    /// `Datafile`.
    pub kind: &'static str,
    /// That entity's id.
    pub id: i64,
    /// Its title or name (untrusted server text).
    pub title: Option<String>,
    /// The DataCollection behind it (publications and collections).
    pub collection: Option<i64>,
    /// The data it selects.
    #[serde(skip)]
    pub target: Target,
}

/// Finds what a reference names. A DOI is looked up on DataPublication.pid, then
/// DataCollection.doi, Investigation.doi, Dataset.doi and Datafile.doi (ignoring case, as DOI
/// names are case-insensitive); the first kind holding it wins.
pub async fn resolve(session: &Session, reference: &Reference) -> anyhow::Result<Resolved> {
    match reference {
        Reference::Collection(id) => {
            let found = session
                .search_entities::<DataCollection>(
                    &Query::new("DataCollection").where_eq("id", *id),
                )
                .await?;
            let c = found.into_iter().next().ok_or_else(|| {
                Failure::not_found(
                    format!("no data collection with id {id} (or you may not read it)"),
                    "check the id given to --collection",
                )
            })?;
            collection_resolved(
                session,
                reference,
                "DataCollection",
                *id,
                c.doi.clone(),
                *id,
            )
            .await
        }
        Reference::Doi(doi) => resolve_doi(session, reference, doi).await,
    }
}

/// The `T` entities whose `field` holds `doi`, ignoring case (DOI names are case-insensitive:
/// DOI Handbook 2.4, "case-insensitive for ASCII characters"), with `include` paths.
async fn by_doi<T: icat_soap::EntityType>(
    session: &Session,
    field: &str,
    doi: &str,
    include: &str,
) -> anyhow::Result<Vec<T>> {
    let jpql = icat_soap::Jpql::new(format!(
        "SELECT x FROM {} x WHERE UPPER(x.{field}) = UPPER(:doi){include}",
        T::NAME
    ))
    .bind("doi", doi);
    let mut out = Vec::new();
    for v in session.search(jpql).await? {
        match v {
            icat_soap::model::Value::Entity(e) => match T::from_entity(e) {
                Ok(t) => out.push(t),
                Err(other) => anyhow::bail!("the server answered a {other} for a {}", T::NAME),
            },
            _ => anyhow::bail!("the server answered a value for a {} search", T::NAME),
        }
    }
    Ok(out)
}

/// The one object a DOI names among those of one kind holding it ignoring case: the one
/// holding it exactly as written when there are several; otherwise several are ambiguous
/// (ICAT does not make DOIs unique), refused naming them, never one picked silently.
fn one_by_doi<T>(
    found: Vec<T>,
    doi: &str,
    kind: &str,
    doi_of: impl Fn(&T) -> Option<&str>,
    id_of: impl Fn(&T) -> Option<i64>,
) -> anyhow::Result<Option<T>> {
    if found.len() <= 1 {
        return Ok(found.into_iter().next());
    }
    let exact: Vec<usize> = (0..found.len())
        .filter(|i| doi_of(&found[*i]) == Some(doi))
        .collect();
    if let [i] = exact.as_slice() {
        return Ok(found.into_iter().nth(*i));
    }
    let named: Vec<String> = found
        .iter()
        .map(|t| format!("{kind} {}", id_of(t).unwrap_or_default()))
        .collect();
    Err(Failure::usage(
        format!(
            "DOI {} is ambiguous: {} hold it (ignoring case)",
            crate::output::sanitize_cell(doi),
            named.join(", ")
        ),
        "write the DOI exactly as registered, or name the object by id (--dataset, --datafile, VISIT)",
    )
    .into())
}

async fn resolve_doi(
    session: &Session,
    reference: &Reference,
    doi: &str,
) -> anyhow::Result<Resolved> {
    let publications = by_doi::<DataPublication>(session, "pid", doi, " INCLUDE x.content").await?;
    if let Some(p) = publications.into_iter().next() {
        let id = p.id.unwrap_or_default();
        let Some(content) = p.content.as_ref().and_then(|c| c.id) else {
            return Err(Failure::not_found(
                format!(
                    "data publication {id} ({}) has no content collection",
                    reference.describe()
                ),
                "ask the facility: the publication lists no data",
            )
            .into());
        };
        return collection_resolved(session, reference, "DataPublication", id, p.title, content)
            .await;
    }
    let collections = by_doi::<DataCollection>(session, "doi", doi, "").await?;
    let collection = one_by_doi(
        collections,
        doi,
        "DataCollection",
        |c| c.doi.as_deref(),
        |c| c.id,
    )?;
    if let Some(c) = collection {
        let id = c.id.unwrap_or_default();
        return collection_resolved(session, reference, "DataCollection", id, None, id).await;
    }
    let resolved = |kind, id: Option<i64>, title: Option<String>, target: fn(i64) -> Target| {
        let id = id.unwrap_or_default();
        Resolved {
            reference: reference.describe(),
            kind,
            id,
            title,
            collection: None,
            target: target(id),
        }
    };
    if let Some(i) = one_by_doi(
        by_doi::<Investigation>(session, "doi", doi, "").await?,
        doi,
        "Investigation",
        |i| i.doi.as_deref(),
        |i| i.id,
    )? {
        return Ok(resolved(
            "Investigation",
            i.id,
            i.title,
            Target::Investigation,
        ));
    }
    if let Some(d) = one_by_doi(
        by_doi::<Dataset>(session, "doi", doi, "").await?,
        doi,
        "Dataset",
        |d| d.doi.as_deref(),
        |d| d.id,
    )? {
        return Ok(resolved("Dataset", d.id, d.name, |id| {
            Target::Datasets(vec![id])
        }));
    }
    if let Some(f) = one_by_doi(
        by_doi::<Datafile>(session, "doi", doi, "").await?,
        doi,
        "Datafile",
        |f| f.doi.as_deref(),
        |f| f.id,
    )? {
        return Ok(resolved("Datafile", f.id, f.name, |id| {
            Target::Datafiles(vec![id])
        }));
    }
    Err(Failure::not_found(
        format!("no data publication, collection, investigation, dataset or datafile has DOI {doi} (or you may not read it)"),
        "check the DOI (case does not matter), or log in as a user who may read the data",
    )
    .into())
}

impl Resolved {
    /// The not-found failure of a download of a reference that selects no datafiles.
    pub fn no_data(&self) -> Option<Failure> {
        matches!(&self.target, Target::Datafiles(ids) if ids.is_empty()).then(|| {
            Failure::not_found(
                format!(
                    "{} ({} {}) holds no datafiles you may read",
                    self.reference, self.kind, self.id
                ),
                "check the reference (`icat show` lists what it holds), or log in as a user who \
                 may read the data",
            )
        })
    }
}

/// A collection (directly or behind a publication) resolved to its datafiles: the ones it lists,
/// those of the datasets it lists, and those of the investigations it lists.
async fn collection_resolved(
    session: &Session,
    reference: &Reference,
    kind: &'static str,
    id: i64,
    title: Option<String>,
    collection: i64,
) -> anyhow::Result<Resolved> {
    // An empty collection (or one whose data the user may not read) resolves to no datafiles:
    // `show` says so, a download refuses it (`Resolved::no_data`).
    let ids = collection_datafile_ids(session, collection).await?;
    Ok(Resolved {
        reference: reference.describe(),
        kind,
        id,
        title,
        collection: Some(collection),
        target: Target::Datafiles(ids.into_iter().collect()),
    })
}

/// The ids of every datafile a DataCollection reaches (three ordered, paged id searches).
pub async fn collection_datafile_ids(
    session: &Session,
    collection: i64,
) -> anyhow::Result<BTreeSet<i64>> {
    let mut ids = BTreeSet::new();
    for path in [
        "dataCollectionDatafiles.dataCollection.id",
        "dataset.dataCollectionDatasets.dataCollection.id",
        "dataset.investigation.dataCollectionInvestigations.dataCollection.id",
    ] {
        let q = Query::new("Datafile")
            .select("id")
            .distinct()
            .where_eq(path, collection)
            .order_by("id");
        for v in catalog::all_pages(session, &q, catalog::PAGE).await? {
            if let Some(id) = catalog::int(Some(&v)) {
                ids.insert(id);
            }
        }
    }
    Ok(ids)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doi_forms() {
        assert_eq!(
            parse_doi("doi:10.5286/ISIS.E.1234").as_deref(),
            Some("10.5286/ISIS.E.1234")
        );
        assert_eq!(parse_doi("DOI:10.1/x").as_deref(), Some("10.1/x"));
        assert_eq!(
            parse_doi("https://doi.org/10.1/a/b").as_deref(),
            Some("10.1/a/b")
        );
        // Issue 20 review, finding 2: a bare DOI, dx.doi.org over http, and a percent-encoded
        // slash in a resolver URL were taken for visit names or refused.
        assert_eq!(parse_doi("10.1/x").as_deref(), Some("10.1/x"));
        assert_eq!(
            parse_doi(" 10.5286/SIM.PUB.1 ").as_deref(),
            Some("10.5286/SIM.PUB.1")
        );
        assert_eq!(
            parse_doi("http://dx.doi.org/10.5286/SIM.PUB.1").as_deref(),
            Some("10.5286/SIM.PUB.1")
        );
        assert_eq!(
            parse_doi("https://doi.org/10.5286%2FSIM.PUB.1").as_deref(),
            Some("10.5286/SIM.PUB.1")
        );
        assert_eq!(parse_doi("doi:10.1/a%2Fb").as_deref(), Some("10.1/a%2Fb"));
        assert_eq!(parse_doi("10.1"), None);
        assert_eq!(parse_doi("SIM000001-1"), None);
        assert_eq!(parse_doi("doi:11.1/x"), None);
        assert_eq!(parse_doi("doi:10./x"), None);
        assert_eq!(parse_doi("doi:10.1/"), None);
        assert_eq!(parse_doi("V1"), None);
        assert_eq!(after_doi_prefix("doi:%"), Some("%"));
        assert_eq!(after_doi_prefix("HTTPS://doi.org/"), Some(""));
        assert_eq!(after_doi_prefix("V1"), None);
    }
}
