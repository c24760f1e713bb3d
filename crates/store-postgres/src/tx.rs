//! Read and write transactions: one pooled connection inside `BEGIN … ISOLATION LEVEL …`,
//! ended by `COMMIT`, or rolled back when dropped.

use crate::buffer::Buffer;
use crate::error::store_error;
use crate::{read, PostgresStore};
use chrono::{DateTime, Utc};
use crosscare_search::SearchQuery;
use crosscare_store::{
    HistoryQuery, PartitionId, ReadTx, ResourceVersion, Result, SearchPage, StoreError,
};
use deadpool_postgres::Object;

/// What a transaction may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `REPEATABLE READ READ ONLY`: one snapshot for the whole transaction, no locks.
    Read,
    /// `READ COMMITTED` with row locks on every current-version row read or written.
    Write,
}

/// A transaction on one pooled connection.
pub(crate) struct PgTx<'a> {
    pub(crate) store: &'a PostgresStore,
    /// `None` once the transaction is committed (or handed to the rollback task).
    pub(crate) client: Option<Object>,
    pub(crate) mode: Mode,
    /// The commit timestamp of this transaction, fixed at its first write or batch lock
    /// (`prefetch`, whose claims carry it).
    pub(crate) stamp: Option<DateTime<Utc>>,
    /// The locked resources and buffered writes (write transactions only).
    pub(crate) buffer: Buffer,
}

impl<'a> PgTx<'a> {
    pub(crate) fn begin(store: &'a PostgresStore, mode: Mode) -> Result<PgTx<'a>> {
        let begin = match mode {
            Mode::Read => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
            Mode::Write => "BEGIN ISOLATION LEVEL READ COMMITTED",
        };
        let client = store.block_on(async {
            let client = store.client().await?;
            client.batch_execute(begin).await.map_err(store_error)?;
            Ok::<_, StoreError>(client)
        })?;
        Ok(PgTx {
            store,
            client: Some(client),
            mode,
            stamp: None,
            buffer: Buffer::default(),
        })
    }

    pub(crate) fn client(&self) -> Result<&Object> {
        self.client
            .as_ref()
            .ok_or_else(|| StoreError::Unavailable("the transaction is finished".into()))
    }

    /// Sends the buffered writes of a write transaction before a statement that reads the
    /// database rather than the buffer, so that it sees them (read-your-writes).
    fn flush_for_read(&mut self) -> Result<()> {
        if self.mode == Mode::Write {
            self.flush()?;
        }
        Ok(())
    }

    /// Commits (or, for a read transaction, simply ends) the transaction and returns the
    /// connection to the pool.
    pub(crate) fn finish(&mut self) -> Result<()> {
        if self.buffer.is_poisoned() {
            // Dropping the connection's transaction (below, through `Drop`) rolls it back.
            return Err(StoreError::Engine(
                "an earlier write of this transaction failed".into(),
            ));
        }
        let Some(client) = self.client.take() else {
            return Err(StoreError::Unavailable(
                "the transaction is finished".into(),
            ));
        };
        let result = self
            .store
            .block_on(async { client.batch_execute("COMMIT").await });
        match result {
            Ok(()) => Ok(()),
            Err(e) => {
                // After a failed COMMIT the server has ended the transaction; a connection
                // that broke is dropped by the pool's recycle check.
                Err(store_error(e))
            }
        }
    }
}

impl Drop for PgTx<'_> {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            // Dropping without commit discards the transaction. The rollback runs as a task on
            // the store's runtime, so that a drop never blocks nor needs a runtime context;
            // the connection returns to the pool only after the rollback succeeded, and is
            // discarded otherwise.
            self.store.handle().spawn(async move {
                if client.batch_execute("ROLLBACK").await.is_err() {
                    let _ = Object::take(client);
                }
            });
        }
    }
}

impl ReadTx for PgTx<'_> {
    fn read(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
    ) -> Result<Option<ResourceVersion>> {
        if self.mode == Mode::Write {
            return self.locked_read(partition, resource_type, id);
        }
        let client = self.client()?;
        self.store
            .block_on(read::read(client, partition, resource_type, id))
    }

    fn vread(
        &mut self,
        partition: &PartitionId,
        resource_type: &str,
        id: &str,
        version_id: u64,
    ) -> Result<Option<ResourceVersion>> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store.block_on(read::vread(
            client,
            partition,
            resource_type,
            id,
            version_id,
        ))
    }

    fn history(
        &mut self,
        partition: &PartitionId,
        query: &HistoryQuery,
    ) -> Result<(Vec<ResourceVersion>, u64)> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store.block_on(read::history(client, partition, query))
    }

    fn search(&mut self, partitions: &[PartitionId], query: &SearchQuery) -> Result<SearchPage> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store
            .block_on(crate::search::search(client, partitions, query))
    }

    fn referring_types(
        &mut self,
        partitions: &[PartitionId],
        target_type: &str,
        target_id: &str,
    ) -> Result<Option<Vec<String>>> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store
            .block_on(crate::search::referring_types(
                client,
                partitions,
                target_type,
                target_id,
            ))
            .map(Some)
    }

    fn count(&mut self, partition: &PartitionId, resource_type: Option<&str>) -> Result<u64> {
        // Buffered writes are counted from the buffer, so that a count between writes (the
        // storage quota's, once per entry of a transaction) does not flush them.
        let delta = self.buffer.live_delta(&partition.0, resource_type);
        let client = self.client()?;
        let stored = self
            .store
            .block_on(read::count_current(client, partition, resource_type))?;
        Ok(stored.saturating_add_signed(delta))
    }

    fn scan(
        &mut self,
        partition: &PartitionId,
        query: &crosscare_store::ScanQuery,
    ) -> Result<crosscare_store::ScanPage> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store
            .block_on(crate::scan::scan(client, partition, query))
    }

    fn partitions(&mut self) -> Result<Vec<PartitionId>> {
        self.flush_for_read()?;
        let client = self.client()?;
        self.store.block_on(read::partitions(client))
    }

    fn setting(&mut self, key: &str) -> Result<Option<String>> {
        let client = self.client()?;
        self.store.block_on(async {
            let row = client
                .query_opt("SELECT value FROM setting WHERE key = $1", &[&key])
                .await
                .map_err(crate::error::store_error)?;
            Ok(row.map(|r| r.get(0)))
        })
    }
}
