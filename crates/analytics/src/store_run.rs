//! Runs a view over the resources of a store (`ViewDefinition/$run`): the view's type is read
//! with `ReadTx::scan` in batches, so memory holds one batch and the writer's buffer.

use crate::output::RowWriter;
use crate::run::RunStats;
use crate::view::plan::ViewPlan;
use crate::ViewError;
use crosscare_store::{PartitionId, ScanQuery, Store};

/// Streams the rows of `plan` over the resources `scan` selects (its `resource_type` must be
/// the view's) into `writer`, stopping after `limit` rows, and finishes the writer.
pub fn run_store(
    plan: &ViewPlan,
    store: &dyn Store,
    partition: &PartitionId,
    mut scan: ScanQuery,
    limit: Option<u64>,
    mut writer: Box<dyn RowWriter>,
) -> Result<RunStats, ViewError> {
    writer.start(plan.columns())?;
    let mut stats = RunStats::default();
    let limit = limit.unwrap_or(u64::MAX);
    'scan: while stats.rows < limit {
        let page = {
            let mut tx = store.read_tx()?;
            tx.scan(partition, &scan)?
        };
        for v in &page.versions {
            let Some(body) = &v.body else { continue };
            let resource: serde_json::Value =
                serde_json::from_str(body).map_err(|e| ViewError::Input {
                    file: format!("{}/{}", v.resource_type, v.id),
                    line: 0,
                    message: format!("stored JSON is unreadable: {e}"),
                })?;
            stats.resources += 1;
            let mut rows = 0u64;
            let mut sink = |row| {
                if stats.rows + rows < limit {
                    rows += 1;
                    writer.write_row(&row)
                } else {
                    Ok(())
                }
            };
            if plan.for_each_row(&resource, &mut sink)? {
                stats.matched += 1;
            }
            stats.rows += rows;
            if stats.rows >= limit {
                break 'scan;
            }
        }
        match page.next {
            Some(next) => scan.after = Some(next),
            None => break,
        }
    }
    writer.finish()?;
    Ok(stats)
}
