//! Typed rows and small conveniences on [`Session`]: `search_rows`, `search_one`, `delete_by_id`.

use super::Session;
use super::typed::EntityType;
use crate::IcatError;
use crate::query::IntoJpql;
use crate::rows::FromRow;

impl Session {
    /// Runs a search and converts each result to `R`: one value (`i64`, `String`, an entity) for
    /// queries that select one item, a tuple for several select items. A result that does not
    /// fit is an [`IcatError::RowShape`] naming the row, the column and what came instead.
    ///
    /// ```no_run
    /// # async fn demo(session: icat_soap::Session) -> Result<(), icat_soap::IcatError> {
    /// use icat_soap::query::{Aggregate, Query};
    /// let per_investigation: Vec<(String, i64, Option<i64>)> = session
    ///     .search_rows(
    ///         &Query::new("Datafile")
    ///             .select("dataset.investigation.name")
    ///             .count()
    ///             .aggregate(Aggregate::Sum, "fileSize")
    ///             .group_by("dataset.investigation.name"),
    ///     )
    ///     .await?;
    /// # Ok(()) }
    /// ```
    pub async fn search_rows<R: FromRow>(&self, query: impl IntoJpql) -> Result<Vec<R>, IcatError> {
        self.search(query)
            .await?
            .into_iter()
            .enumerate()
            .map(|(row, v)| R::from_row(v).map_err(|error| IcatError::RowShape { row, error }))
            .collect()
    }

    /// Runs a search that must give exactly one result and converts it to `R`, e.g.
    /// `let (files, bytes): (i64, Option<i64>) = session.search_one(&q).await?;`. (SUM over no
    /// rows is null, hence the `Option`.) No match and several matches are both
    /// [`IcatError::NotOneResult`] (never `NoSuchObjectFound`), with the count.
    pub async fn search_one<R: FromRow>(&self, query: impl IntoJpql) -> Result<R, IcatError> {
        let mut rows = self.search(query).await?;
        if rows.len() != 1 {
            return Err(IcatError::NotOneResult { count: rows.len() });
        }
        let value = rows.pop().ok_or(IcatError::NotOneResult { count: 0 })?;
        R::from_row(value).map_err(|error| IcatError::RowShape { row: 0, error })
    }

    /// Deletes the `T` with this id (and, as ICAT does, everything it owns through one-to-many
    /// relations): `session.delete_by_id::<Dataset>(id)`.
    pub async fn delete_by_id<T: EntityType>(&self, id: i64) -> Result<(), IcatError> {
        self.delete(T::reference(id)).await
    }
}
