//! Typed client for ICAT's JSON REST API, where ICAT 6.1+ serves what SOAP does not: free-text
//! and faceted search (`search/documents` with `search_after` paging, sort, `restrict`,
//! minCount/maxCount and facets; `facet/documents` with dimensions and ranges), plus the
//! session calls. The formats follow icat.server's `ICATRest` (and icat.lucene's document
//! fields); the session is shared with the SOAP client ([`RestClient::with_session`]).
//!
//! ```no_run
//! # async fn demo(session: icat_soap::Session) -> Result<(), icat_rest::RestError> {
//! use icat_rest::{RestClient, SearchQuery, SearchRequest, Target};
//!
//! let rest = RestClient::new("https://icat.example.org:8181")?.with_session(session);
//! let mut req = SearchRequest::new(SearchQuery::new(Target::Dataset).text("lysozyme"));
//! loop {
//!     let page = rest.search(&req).await?;
//!     for hit in &page.results {
//!         println!("{} {:?}", hit.id, hit.source.name());
//!     }
//!     match page.search_after {
//!         Some(after) if !page.results.is_empty() => req.search_after = Some(after),
//!         _ => break,
//!     }
//! }
//! # Ok(()) }
//! ```

pub mod answer;
pub mod client;
pub mod error;
pub mod query;

pub use answer::{Dimension, Dimensions, Document, FacetAnswer, FacetLabel, Hit, SearchAnswer};
pub use client::{RestClient, RestClientBuilder, SessionInfo, rest_base};
pub use error::RestError;
/// How reads are retried ([`RestClientBuilder::retry`]); the SOAP client's policy type.
pub use icat_soap::RetryPolicy;
pub use query::{
    Bound, DimensionRequest, Direction, FacetQuery, FacetRange, FacetRequest, ParameterFilter,
    ParameterValue, SearchQuery, SearchRequest, Target, minutes,
};
