//! Compiles a [`SearchQuery`] into SQLite SQL.

use crate::{PartitionId, Result, SearchPage, StoreError};
use crosscare_search::SearchQuery;
use rusqlite::Connection;

pub(crate) fn search(
    _conn: &Connection,
    _partitions: &[PartitionId],
    _query: &SearchQuery,
) -> Result<SearchPage> {
    Err(StoreError::UnsupportedSearch(
        "search is not compiled yet".into(),
    ))
}
