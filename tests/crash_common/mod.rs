//! The crash simulator's recording storage seam and power-cut model,
//! shared by `tests/crash_sim.rs` (appends) and
//! `tests/crash_sim_snapshot.rs` (projection snapshots). See
//! `tests/crash_sim.rs` for the model.

use std::collections::HashMap;
use std::io;
use std::path::Path;
use std::sync::{Arc, Mutex};

use baldur_journal::disk::{OpenMode, OsStorage, Storage, StorageFile};

use crate::common::Rng;
use crate::seam::Hooks;

pub const SECTOR: usize = 512;

#[derive(Clone, Debug)]
pub enum Op {
    /// A name now points at a new, empty file.
    Create {
        name: String,
    },
    Write {
        name: String,
        offset: u64,
        data: Vec<u8>,
    },
    SyncFile {
        name: String,
    },
    SyncDir,
    Rename {
        from: String,
        to: String,
    },
    /// A name removed (retention's unlink).
    Remove {
        name: String,
    },
    Ack {
        sequence: u64,
    },
}

#[derive(Clone, Default)]
pub struct Recorder {
    pub ops: Arc<Mutex<Vec<Op>>>,
}

impl Recorder {
    pub fn push(&self, op: Op) {
        self.ops.lock().unwrap().push(op);
    }
}

#[must_use]
pub fn name_of(path: &Path) -> String {
    path.file_name().unwrap().to_str().unwrap().to_string()
}

impl Hooks for Recorder {
    fn open(&self, path: &Path, mode: OpenMode) -> io::Result<Box<dyn StorageFile>> {
        let existed = path.exists();
        let inner = OsStorage.open(path, mode)?;
        if mode == OpenMode::CreateNew || mode == OpenMode::Truncate || !existed {
            self.push(Op::Create {
                name: name_of(path),
            });
        }
        Ok(inner)
    }
    fn write(
        &self,
        path: &Path,
        inner: &dyn StorageFile,
        buf: &[u8],
        offset: u64,
    ) -> io::Result<()> {
        inner.write_all_at(buf, offset)?;
        self.push(Op::Write {
            name: name_of(path),
            offset,
            data: buf.to_vec(),
        });
        Ok(())
    }
    fn sync_data(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        inner.sync_data()?;
        self.push(Op::SyncFile {
            name: name_of(path),
        });
        Ok(())
    }
    fn sync_all(&self, path: &Path, inner: &dyn StorageFile) -> io::Result<()> {
        self.sync_data(path, inner)
    }
    fn sync_dir(&self, path: &Path) -> io::Result<()> {
        OsStorage.sync_dir(path)?;
        self.push(Op::SyncDir);
        Ok(())
    }
    fn rename(&self, from: &Path, to: &Path) -> io::Result<()> {
        OsStorage.rename(from, to)?;
        self.push(Op::Rename {
            from: name_of(from),
            to: name_of(to),
        });
        Ok(())
    }
    fn remove_file(&self, path: &Path) -> io::Result<()> {
        OsStorage.remove_file(path)?;
        self.push(Op::Remove {
            name: name_of(path),
        });
        Ok(())
    }
}

/// One inode's contents: writes in order, each marked durable or not.
#[derive(Default, Clone)]
struct Inode {
    writes: Vec<(u64, Vec<u8>, bool)>,
}

/// Builds the disk state a power cut after `ops[..k]` could leave.
pub fn crash_state(ops: &[Op], rng: &mut Rng, dir: &Path) -> u64 {
    // Which namespace operations are durable: those before the last SyncDir.
    let last_dir_sync = ops.iter().rposition(|op| matches!(op, Op::SyncDir));
    let namespace_ops: Vec<usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| {
            matches!(
                op,
                Op::Create { .. } | Op::Rename { .. } | Op::Remove { .. }
            )
        })
        .map(|(i, _)| i)
        .collect();
    let volatile: Vec<usize> = namespace_ops
        .iter()
        .copied()
        .filter(|&i| last_dir_sync.is_none_or(|d| i > d))
        .collect();
    // Unsynced metadata survives in order, up to a random point.
    let keep_volatile = rng.index(volatile.len() + 1);
    let dropped: Vec<usize> = volatile[keep_volatile..].to_vec();

    let mut inodes: Vec<Inode> = Vec::new();
    let mut names: HashMap<String, usize> = HashMap::new();
    let mut live_names: HashMap<String, usize> = HashMap::new();
    let mut acked = 0;
    // First pass: which inode each write goes to (by the live namespace),
    // and whether a later sync of that inode made it durable.
    let mut write_targets: Vec<(usize, usize)> = Vec::new(); // (op index, inode)
    let mut syncs: Vec<(usize, usize)> = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        match op {
            Op::Create { name } => {
                inodes.push(Inode::default());
                live_names.insert(name.clone(), inodes.len() - 1);
                if !dropped.contains(&i) {
                    names.insert(name.clone(), inodes.len() - 1);
                }
            }
            Op::Rename { from, to } => {
                if let Some(inode) = live_names.remove(from) {
                    live_names.insert(to.clone(), inode);
                    if !dropped.contains(&i)
                        && let Some(durable) = names.remove(from)
                    {
                        names.insert(to.clone(), durable);
                    }
                }
            }
            Op::Remove { name } => {
                live_names.remove(name);
                if !dropped.contains(&i) {
                    names.remove(name);
                }
            }
            Op::Write { name, .. } => write_targets.push((i, live_names[name])),
            Op::SyncFile { name } => syncs.push((i, live_names[name])),
            Op::SyncDir => {}
            Op::Ack { sequence } => acked = acked.max(*sequence),
        }
    }
    for &(i, inode) in &write_targets {
        let Op::Write { offset, data, .. } = &ops[i] else {
            unreachable!()
        };
        let durable = syncs.iter().any(|&(s, target)| s > i && target == inode);
        inodes[inode].writes.push((*offset, data.clone(), durable));
    }
    for (name, inode) in &names {
        let mut content: Vec<u8> = Vec::new();
        for (offset, data, durable) in &inodes[*inode].writes {
            let start = usize::try_from(*offset).unwrap();
            let keep = if *durable {
                data.len()
            } else {
                match rng.below(3) {
                    0 => 0,
                    1 => data.len(),
                    // Torn at a sector boundary of the file.
                    _ => {
                        let end = start + data.len();
                        let cut = (start + rng.index(data.len() + 1)) / SECTOR * SECTOR;
                        cut.clamp(start, end) - start
                    }
                }
            };
            if keep == 0 {
                continue;
            }
            if content.len() < start + keep {
                content.resize(start + keep, 0);
            }
            content[start..start + keep].copy_from_slice(&data[..keep]);
        }
        std::fs::write(dir.join(name), content).unwrap();
    }
    acked
}

/// A `u64` from the environment, or `default`.
#[must_use]
pub fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Builds `points` crash states of `ops` (every prefix, then again with
/// other random choices) in fresh directories and hands each to `check`
/// with the highest acknowledged sequence and a context line that says how
/// to replay it. Returns how many were checked.
pub fn for_each_crash_state(
    ops: &[Op],
    points: u64,
    base_seed: u64,
    mut check: impl FnMut(&Path, u64, &str),
) -> u64 {
    let mut checked = 0u64;
    let mut variant = 0u64;
    while checked < points {
        for k in 0..=ops.len() {
            if checked >= points {
                break;
            }
            let seed = base_seed ^ (variant << 32) ^ k as u64 ^ 0x9e37_79b9_7f4a_7c15;
            let mut rng = Rng(seed | 1);
            let dir = tempfile::tempdir().unwrap();
            let acked = crash_state(&ops[..k], &mut rng, dir.path());
            let context = format!(
                "crash after op {k} of {} (variant {variant}; replay with \
                 BALDUR_CRASH_SEED={base_seed} and this op/variant)",
                ops.len()
            );
            check(dir.path(), acked, &context);
            checked += 1;
        }
        variant += 1;
    }
    checked
}
