//! Typed search (`search_entities::<Investigation>`) and paged result streams over `LIMIT offset, n`.

use futures_util::stream::{self, Stream, StreamExt, TryStreamExt};

use super::{PageGuard, Session};
use crate::IcatError;
use crate::model::{Entity, Value};
use crate::query::Query;

/// An entity struct that can be taken out of the [`Entity`] union, e.g. `Investigation`.
///
/// `cargo xtask codegen` implements it for every entity of the schema (with `reference(id)` and
/// `From<T> for Option<Box<T>>`); [`Entity::NAMES`] lists them and [`Entity::reference`] builds one
/// by name.
pub trait EntityType: Into<Entity> + Sized + Send + 'static {
    /// The JPQL entity name, e.g. `"Investigation"`.
    const NAME: &'static str;
    /// Takes the struct out of the union, or names the entity type it holds instead.
    fn from_entity(entity: Entity) -> Result<Self, &'static str>;
    /// The struct inside the union, if the union holds this type.
    fn ref_from_entity(entity: &Entity) -> Option<&Self>;
    /// The entity's id (`None` until it is stored).
    fn id(&self) -> Option<i64>;
    /// An entity with only its id set: what create, update and delete need to refer to an
    /// existing object (`Dataset { investigation: Investigation::reference(id).into(), .. }`).
    fn reference(id: i64) -> Self;

    /// The id of an entity fetched from or stored on the server; an [`IcatError::MissingId`]
    /// (instead of an `Option`) when it has none.
    ///
    /// ```
    /// use icat_soap::EntityType;
    /// use icat_soap::model::Investigation;
    /// assert_eq!(Investigation::reference(7).stored_id()?, 7);
    /// assert!(Investigation::default().stored_id().is_err());
    /// # Ok::<(), icat_soap::IcatError>(())
    /// ```
    fn stored_id(&self) -> Result<i64, IcatError> {
        self.id().ok_or(IcatError::MissingId { entity: Self::NAME })
    }
}

/// A short description of a search result, for errors.
fn describe(value: &Value) -> String {
    match value {
        Value::Entity(e) => format!("a {}", e.entity_name()),
        Value::FieldSet(_) => "a row of several columns".to_owned(),
        other => {
            let dbg = format!("{other:?}");
            let kind = dbg.split('(').next().unwrap_or("value").to_owned();
            format!("a {kind} value")
        }
    }
}

/// Takes `T` out of each value, failing on the first value of another kind.
pub(crate) fn take_all<T: EntityType>(values: Vec<Value>) -> Result<Vec<T>, IcatError> {
    values
        .into_iter()
        .map(|v| match v {
            Value::Entity(e) => T::from_entity(e).map_err(|other| IcatError::UnexpectedResult {
                expected: T::NAME.to_owned(),
                found: format!("a {other}"),
            }),
            other => Err(IcatError::UnexpectedResult {
                expected: T::NAME.to_owned(),
                found: describe(&other),
            }),
        })
        .collect()
}

/// Checks, before sending, that a query can return `T`s.
pub(crate) fn check_typed<T: EntityType>(query: &Query) -> Result<(), IcatError> {
    if query.entity() != T::NAME || !query.selects_entity() {
        let what = if query.selects_entity() {
            format!("{} entities", query.entity())
        } else {
            "attributes or an aggregate".to_owned()
        };
        return Err(IcatError::UnexpectedResult {
            expected: T::NAME.to_owned(),
            found: format!("a query for {what}"),
        });
    }
    Ok(())
}

impl Session {
    /// Runs a query for entities of type `T` and returns them typed. The query is checked before
    /// sending; a result of another type is an [`IcatError::UnexpectedResult`].
    ///
    /// ```no_run
    /// # async fn demo(session: icat_soap::client::Session) -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::Query;
    /// use icat_soap::model::Investigation;
    /// let mine: Vec<Investigation> = session
    ///     .search_entities(&Query::new("Investigation").include("facility"))
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn search_entities<T: EntityType>(&self, query: &Query) -> Result<Vec<T>, IcatError> {
        check_typed::<T>(query)?;
        take_all(self.search(query).await?)
    }

    /// Gets one `T` by id, with the given include paths (`&[]` for none; `&["1"]` for `INCLUDE 1`).
    pub async fn get_entity<T: EntityType>(
        &self,
        id: i64,
        includes: &[&str],
    ) -> Result<T, IcatError> {
        let query = get_query(T::NAME, includes)?;
        let entity = self.get(&query, id).await?;
        T::from_entity(entity).map_err(|other| IcatError::UnexpectedResult {
            expected: T::NAME.to_owned(),
            found: format!("a {other}"),
        })
    }

    /// Streams the results of `query` page by page (`LIMIT offset, page_size`), for results larger
    /// than the server's `maxEntities` or than memory. Each page is one `search`.
    ///
    /// The query must have an ORDER BY (otherwise pages may overlap or miss rows) and no LIMIT, and
    /// `page_size` must be at least 2 (ICAT ignores `LIMIT` offsets on some id lookups, which would
    /// make a page size of 1 loop). If the data change between pages, rows can be missed or
    /// repeated. The stream ends after the first short page. A page of entities that only repeats
    /// earlier results (a server ignoring the offset) ends it with
    /// [`IcatError::EndlessPaging`] (see [`PageGuard`]). A server can also hand out fresh pages
    /// forever (new entities, or plain values, which carry no ids to notice repeats by), so one
    /// `COUNT` of the same selection is searched first (not for a query selecting only an
    /// aggregate) and the pages are bounded by it (the counted pages and one to spare), then
    /// [`IcatError::EndlessPaging`].
    pub fn search_pages(
        &self,
        query: &Query,
        page_size: u64,
    ) -> Result<impl Stream<Item = Result<Vec<Value>, IcatError>> + Send + Unpin + 'static, IcatError>
    {
        if !query.is_ordered() {
            return Err(IcatError::InvalidArgument(
                "paged search needs an ORDER BY (use Query::order_by), otherwise pages can overlap"
                    .into(),
            ));
        }
        if query.limit_value().is_some() {
            return Err(IcatError::InvalidArgument(
                "paged search sets LIMIT itself; remove the query's limit".into(),
            ));
        }
        if page_size < 2 {
            return Err(IcatError::InvalidArgument(
                "page size must be at least 2 (ICAT can ignore LIMIT offsets for single rows)"
                    .into(),
            ));
        }
        // Render once now so that path errors surface before the first page.
        query.to_jpql()?;
        // A server may hand out fresh pages forever (new entities, or plain values, which carry
        // no ids to notice repeats by): the pages are bounded by a COUNT made first (an
        // aggregate's rows need no bound).
        let count = (!query.has_aggregate()).then(|| query.row_count_bound());
        let session = self.clone();
        let query = query.clone();
        // Boxed, so that callers can `.try_next().await` without pinning it themselves.
        Ok(Box::pin(stream::try_unfold(
            Some((0u64, PageGuard::new(), count)),
            move |state| {
                let session = session.clone();
                let query = query.clone();
                async move {
                    let Some((offset, mut guard, count)) = state else {
                        return Ok(None);
                    };
                    if let Some(count) = count {
                        let total = counted_rows(session.search(&count).await?)?;
                        guard = guard.with_expected_total(total, page_size);
                    }
                    let page = session.search(&query.limit(offset, page_size)).await?;
                    if page.is_empty() {
                        return Ok(None);
                    }
                    guard.check(offset, &page)?;
                    let len = page.len() as u64;
                    let next = (len == page_size).then(|| (offset + page_size, guard, None));
                    Ok(Some((page, next)))
                }
            },
        )))
    }

    /// Like [`Session::search_pages`], one result at a time.
    pub fn search_stream(
        &self,
        query: &Query,
        page_size: u64,
    ) -> Result<impl Stream<Item = Result<Value, IcatError>> + Send + Unpin + 'static, IcatError>
    {
        Ok(self
            .search_pages(query, page_size)?
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten())
    }

    /// Like [`Session::search_stream`], typed: every result must be a `T`.
    pub fn search_entities_stream<T: EntityType>(
        &self,
        query: &Query,
        page_size: u64,
    ) -> Result<impl Stream<Item = Result<T, IcatError>> + Send + Unpin + 'static, IcatError> {
        check_typed::<T>(query)?;
        Ok(self
            .search_pages(query, page_size)?
            .map(|page| page.and_then(take_all::<T>))
            .map_ok(|page| stream::iter(page.into_iter().map(Ok)))
            .try_flatten())
    }
}

/// The `get` query for `entity` with include paths: `"Dataset"`, `"Dataset INCLUDE 1"`,
/// `"Dataset e INCLUDE e.datafiles, e.type"`. Paths are checked like [`Query::include`] paths.
pub fn get_query(entity: &str, includes: &[&str]) -> Result<String, IcatError> {
    if includes.is_empty() {
        // Validate the entity name offline.
        Query::new(entity).to_jpql()?;
        return Ok(entity.to_owned());
    }
    if includes == ["1"] {
        Query::new(entity).to_jpql()?;
        return Ok(format!("{entity} INCLUDE 1"));
    }
    let mut q = Query::new(entity);
    for p in includes {
        q = q.include(*p);
    }
    // `SELECT x FROM E x INCLUDE x.a, x.b` -> take the variable and the INCLUDE part.
    let jpql = q.to_jpql()?;
    let var = jpql.split_whitespace().nth(1).unwrap_or("e").to_owned();
    let include = jpql
        .split_once(" INCLUDE ")
        .map(|(_, inc)| inc.to_owned())
        .unwrap_or_default();
    Ok(format!("{entity} {var} INCLUDE {include}"))
}

/// The number a `COUNT` search answered.
fn counted_rows(values: Vec<Value>) -> Result<u64, IcatError> {
    match values.as_slice() {
        [one @ (Value::Long(_) | Value::Int(_))] => Ok(one
            .as_i64()
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0)),
        other => Err(IcatError::UnexpectedResult {
            expected: "one count".to_owned(),
            found: format!("{} values", other.len()),
        }),
    }
}
