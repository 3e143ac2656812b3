//! A consistent copy of the whole ledger database, for backups, taken with SQLite's online
//! backup API while other processes may keep appending.

use std::path::Path;

use rusqlite::backup::{Backup, StepResult};
use rusqlite::{Connection, OpenFlags};

use super::{sqlite_error, Ledger, LedgerError};

/// How many times a snapshot is retried while another process holds a lock it needs.
const SNAPSHOT_TRIES: u32 = 100;

impl Ledger {
    /// Copies the whole database, as it is at one moment, into a new file at `dest` (which
    /// must not exist, or be empty). The copy is made in a single step of SQLite's online
    /// backup API, under one read transaction, so it holds exactly the events, checkpoints and
    /// derived rows that were committed at that moment, and never half of a transaction.
    /// Appends by other processes meanwhile wait for it or are simply not in the copy.
    pub fn snapshot_to(&self, dest: &Path) -> Result<(), LedgerError> {
        let err = |op| move |e| sqlite_error(dest, op, e);
        let mut out = Connection::open_with_flags(
            dest,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(err("creating the snapshot"))?;
        {
            let backup = Backup::new(&self.conn, &mut out).map_err(err("starting the snapshot"))?;
            let mut tries = 0;
            loop {
                // -1: every page in one step, under one read transaction on the source.
                match backup.step(-1).map_err(err("copying the ledger"))? {
                    StepResult::Done => break,
                    StepResult::More | StepResult::Busy | StepResult::Locked
                        if tries < SNAPSHOT_TRIES =>
                    {
                        tries += 1;
                        std::thread::sleep(std::time::Duration::from_millis(50));
                    }
                    _ => {
                        return Err(LedgerError::Busy {
                            path: self.path.clone(),
                        })
                    }
                }
            }
        }
        out.close()
            .map_err(|(_, e)| sqlite_error(dest, "closing the snapshot", e))
    }
}
