//! The resume record: for each input file, how many lines are known to be committed.
//!
//! It is rewritten atomically (temporary file + rename) after each committed batch, so after a
//! crash it is never ahead of the store. It may be behind by one batch, which is harmless: a
//! resource identical to its stored version is recognised and left alone.

use crate::IngestError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Checkpoint {
    /// Absolute file path -> committed line count.
    pub files: BTreeMap<String, u64>,
}

impl Checkpoint {
    pub fn load(path: &Path) -> Result<Checkpoint, IngestError> {
        match std::fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| IngestError::Checkpoint {
                path: path.to_path_buf(),
                message: e.to_string(),
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Checkpoint::default()),
            Err(source) => Err(IngestError::Io {
                path: path.to_path_buf(),
                source,
            }),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), IngestError> {
        let tmp = path.with_extension("tmp");
        let io = |source| IngestError::Io {
            path: path.to_path_buf(),
            source,
        };
        let bytes = serde_json::to_vec_pretty(self).map_err(|e| IngestError::Checkpoint {
            path: path.to_path_buf(),
            message: e.to_string(),
        })?;
        std::fs::write(&tmp, bytes).map_err(io)?;
        std::fs::rename(&tmp, path).map_err(io)
    }

    pub fn key(file: &Path) -> String {
        std::fs::canonicalize(file)
            .unwrap_or_else(|_| PathBuf::from(file))
            .display()
            .to_string()
    }

    /// Records that `file` is committed up to `line` and saves the checkpoint to `path` (kept in
    /// memory only without a checkpoint file). Called after each committed batch, offline, over
    /// HTTP or in a server's `$import` job (whose record carries the lines instead of a file).
    pub fn record(
        &mut self,
        path: Option<&Path>,
        file: &Path,
        line: u64,
    ) -> Result<(), IngestError> {
        self.files.insert(Checkpoint::key(file), line);
        if let Some(path) = path {
            self.save(path)?;
        }
        Ok(())
    }

    pub fn committed(&self, file: &Path) -> u64 {
        self.files.get(&Self::key(file)).copied().unwrap_or(0)
    }
}
