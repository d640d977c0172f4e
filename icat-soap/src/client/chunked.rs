//! Searches over long value lists: one query per bounded `IN (...)` chunk, results merged.

use super::Session;
use super::typed::{EntityType, take_all};
use crate::IcatError;
use crate::model::Value;
use crate::query::{Condition, Literal, MAX_IN_VALUES, Query};

/// How many values [`Session::search_in`] puts into one `IN (...)` list: half of the
/// `maxIdsInQuery = 1000` of ids.server's example configuration, well within what databases
/// behind ICAT accept (Oracle: 1000).
pub const DEFAULT_IN_CHUNK: usize = 500;

impl Session {
    /// Runs `query` with `path IN (values…)` added, splitting `values` into lists of
    /// [`DEFAULT_IN_CHUNK`] (one search each) and concatenating the results in chunk order. For
    /// id lists of any length, where one query with every value would be refused.
    ///
    /// The query must not aggregate (COUNT or SUM of separate chunks would not add up to the
    /// right answer) and must not have a LIMIT. An ORDER BY orders each chunk's results only.
    /// No values means no search and no results.
    ///
    /// ```no_run
    /// # async fn demo(session: icat_soap::client::Session) -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::Query;
    /// let ids: Vec<i64> = (1..=20_000).collect();
    /// let names = session.search_in(&Query::new("Datafile").select("name"), "id", ids).await?;
    /// # Ok(()) }
    /// ```
    pub async fn search_in<V: Into<Literal>>(
        &self,
        query: &Query,
        path: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Vec<Value>, IcatError> {
        self.search_in_chunks(query, path, values, DEFAULT_IN_CHUNK)
            .await
    }

    /// Like [`Session::search_in`] with `chunk` values per search (1 to
    /// [`MAX_IN_VALUES`]).
    pub async fn search_in_chunks<V: Into<Literal>>(
        &self,
        query: &Query,
        path: &str,
        values: impl IntoIterator<Item = V>,
        chunk: usize,
    ) -> Result<Vec<Value>, IcatError> {
        if !(1..=MAX_IN_VALUES).contains(&chunk) {
            return Err(IcatError::InvalidArgument(format!(
                "the chunk size must be 1 to {MAX_IN_VALUES}, not {chunk}"
            )));
        }
        if query.has_aggregate() {
            return Err(IcatError::InvalidArgument(
                "a search split into chunks cannot aggregate: the chunks' COUNT/SUM would not add up; select the rows and aggregate them yourself".into(),
            ));
        }
        if query.limit_value().is_some() {
            return Err(IcatError::InvalidArgument(
                "a search split into chunks cannot have a LIMIT; remove it".into(),
            ));
        }
        let values: Vec<Literal> = values.into_iter().map(Into::into).collect();
        let mut out = Vec::new();
        for part in values.chunks(chunk) {
            let q = query
                .clone()
                .filter(Condition::is_in(path, part.iter().cloned()));
            out.extend(self.search(&q).await?);
        }
        Ok(out)
    }

    /// Like [`Session::search_in`], typed: the query must select `T` entities.
    pub async fn search_entities_in<T: EntityType, V: Into<Literal>>(
        &self,
        query: &Query,
        path: &str,
        values: impl IntoIterator<Item = V>,
    ) -> Result<Vec<T>, IcatError> {
        super::typed::check_typed::<T>(query)?;
        take_all(self.search_in(query, path, values).await?)
    }
}
