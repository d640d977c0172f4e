//! Free-text and faceted search as ICAT 6.2 serves it through `search/documents` and
//! `facet/documents`: a real full-text index (SQLite FTS5, [`index`]) kept in step with the
//! catalogue by triggers, the query language ([`query`], [`lucene`]), the document fields
//! ([`fields`]), block-wise searching with READ-access filtering ([`engine`]) and facets
//! ([`facets`]).

pub mod engine;
pub mod facets;
pub mod fields;
pub mod index;
pub mod lucene;
pub mod query;
