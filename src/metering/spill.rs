//! The spill file: an append-only file beside the database where the usage writer
//! puts batches the database refused (locked, full, gone) and everything still
//! queued at shutdown when the database cannot take it.
//!
//! One JSON `UsageEvent` per line. Each append is one `write` followed by
//! `fdatasync`, so a batch is either durable or (after a crash mid-append) a torn
//! last line, which the reader skips. The file is bounded by `[usage]
//! spill_max_mb`: an append that would pass the bound is refused, and the writer
//! keeps those events in memory instead. Replaying is idempotent because event ids
//! are unique and the store ignores ids it has seen (no double rows, no double
//! charges), so the file is removed only after every line is committed, and a
//! crash during a replay simply replays again.
//!
//! Blocking I/O on purpose: only the writer's own thread calls this.

use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use super::UsageEvent;

#[derive(Debug, thiserror::Error)]
pub enum SpillError {
    #[error("spill file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error(
        "spill file {path} is full ({len} of {max} bytes; raise [usage] spill_max_mb or free the database)"
    )]
    Full { path: PathBuf, len: u64, max: u64 },
}

pub struct SpillFile {
    path: PathBuf,
    max_bytes: u64,
    len: u64,
    records: u64,
}

impl SpillFile {
    /// Opens the spill file at `path` (it need not exist), counting what an earlier
    /// process left in it.
    pub fn open(path: PathBuf, max_bytes: u64) -> SpillFile {
        let (len, records) = match File::open(&path) {
            Ok(f) => {
                let mut len = 0u64;
                let mut records = 0u64;
                let mut reader = BufReader::new(f);
                let mut line = Vec::new();
                while let Ok(n) = reader.read_until(b'\n', &mut line) {
                    if n == 0 {
                        break;
                    }
                    len += n as u64;
                    if line.ends_with(b"\n") {
                        records += 1;
                    }
                    line.clear();
                }
                (len, records)
            }
            Err(_) => (0, 0),
        };
        SpillFile {
            path,
            max_bytes,
            len,
            records,
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Complete lines in the file: events not yet in the database.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// Appends `events` durably (written and fsynced) or not at all.
    pub fn append(&mut self, events: &[UsageEvent]) -> Result<(), SpillError> {
        if events.is_empty() {
            return Ok(());
        }
        let mut buf = Vec::with_capacity(events.len() * 512);
        for ev in events {
            // A plain struct of strings and integers: serializing cannot fail.
            if serde_json::to_writer(&mut buf, ev).is_ok() {
                buf.push(b'\n');
            }
        }
        let new_len = self.len + buf.len() as u64;
        if new_len > self.max_bytes {
            return Err(SpillError::Full {
                path: self.path.clone(),
                len: self.len,
                max: self.max_bytes,
            });
        }
        let io = |source| SpillError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(io)?;
        // A torn line left by a crash mid-append must not swallow the next record.
        if self.len > 0 && !ends_with_newline(&self.path) {
            f.write_all(b"\n").map_err(io)?;
            self.len += 1;
        }
        f.write_all(&buf).map_err(io)?;
        f.sync_data().map_err(io)?;
        self.len = new_len;
        self.records += events.len() as u64;
        Ok(())
    }

    /// Reads the file back, in order. Lines that do not parse (a torn last line
    /// after a crash) are skipped and counted.
    pub fn read(&self) -> Result<(Vec<UsageEvent>, u64), SpillError> {
        let io = |source| SpillError::Io {
            path: self.path.clone(),
            source,
        };
        let f = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(io(e)),
        };
        let mut events = Vec::new();
        let mut skipped = 0;
        for line in BufReader::new(f).split(b'\n') {
            let line = line.map_err(io)?;
            if line.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            match serde_json::from_slice::<UsageEvent>(&line) {
                Ok(ev) => events.push(ev),
                Err(_) => skipped += 1,
            }
        }
        Ok((events, skipped))
    }

    /// Everything in the file is in the database: remove it.
    pub fn clear(&mut self) -> Result<(), SpillError> {
        match std::fs::remove_file(&self.path) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(source) => {
                return Err(SpillError::Io {
                    path: self.path.clone(),
                    source,
                });
            }
        }
        self.len = 0;
        self.records = 0;
        Ok(())
    }
}

fn ends_with_newline(path: &Path) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut f) = File::open(path) else {
        return true;
    };
    let mut last = [0u8; 1];
    f.seek(SeekFrom::End(-1)).is_err() || (f.read_exact(&mut last).is_ok() && last[0] == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metering::UsageSource;

    fn event(id: &str) -> UsageEvent {
        UsageEvent {
            id: id.into(),
            ts_ms: 1,
            request_id: "r".into(),
            account_id: "a".into(),
            kid: String::new(),
            user_id: String::new(),
            endpoint: "/v1/chat/completions".into(),
            provider: String::new(),
            model_requested: String::new(),
            model_served: String::new(),
            status: 200,
            error_code: String::new(),
            input_tokens: 1,
            output_tokens: 2,
            cached_tokens: 0,
            usage_source: UsageSource::Reported,
            cost_micro_usd: Some(3),
            charge_micro: 4,
            currency: "USD".into(),
            latency_ms: 5,
            ttfb_ms: 5,
            client_ip: String::new(),
            session_id: String::new(),
            app_version: String::new(),
            byok: false,
            streamed: false,
            failed_attempt: false,
        }
    }

    #[test]
    fn appends_survive_a_reopen_and_a_torn_tail_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spill");
        let mut spill = SpillFile::open(path.clone(), 1 << 20);
        spill.append(&[event("1"), event("2")]).unwrap();
        // A crash in the middle of the next append.
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"id\":\"3\",\"ts")
            .unwrap();
        let mut spill = SpillFile::open(path.clone(), 1 << 20);
        assert_eq!(spill.records(), 2);
        spill.append(&[event("4")]).unwrap();
        let (events, skipped) = spill.read().unwrap();
        let ids: Vec<_> = events.iter().map(|e| e.id.as_str()).collect();
        assert_eq!((ids, skipped), (vec!["1", "2", "4"], 1));
        assert_eq!(events[0], event("1"));
        spill.clear().unwrap();
        assert!(!path.exists());
        assert_eq!(spill.records(), 0);
    }

    /// A spill file an older version left (no `failed_attempt`, the cost a plain
    /// number) is still replayed, and an unknown cost survives the round trip.
    #[test]
    fn older_lines_still_read_and_unknown_costs_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spill");
        let mut old = serde_json::to_value(event("1")).unwrap();
        old.as_object_mut().unwrap().remove("failed_attempt");
        std::fs::write(&path, format!("{old}\n")).unwrap();
        let mut spill = SpillFile::open(path, 1 << 20);
        let mut unknown = event("2");
        unknown.cost_micro_usd = None;
        unknown.failed_attempt = true;
        spill.append(std::slice::from_ref(&unknown)).unwrap();
        let (events, skipped) = spill.read().unwrap();
        assert_eq!((events, skipped), (vec![event("1"), unknown], 0));
    }

    #[test]
    fn the_size_bound_refuses_whole_batches() {
        let dir = tempfile::tempdir().unwrap();
        let mut spill = SpillFile::open(dir.path().join("spill"), 600);
        spill.append(&[event("1")]).unwrap();
        let err = spill.append(&[event("2"), event("3")]).unwrap_err();
        assert!(matches!(err, SpillError::Full { .. }), "{err}");
        assert_eq!(spill.read().unwrap().0.len(), 1);
    }
}
