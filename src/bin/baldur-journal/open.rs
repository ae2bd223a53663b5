//! Opening the journal: the directory from the flags or the environment,
//! read-only opens that never create anything, writer opens with a
//! durability policy, and the parsers of those options.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};
use std::sync::Arc;

pub use baldur_journal::disk::writer_is_live;
use baldur_journal::url::open_shared;
use baldur_journal::{DiskJournal, DiskJournalBuilder, Durability, EventJournal, JournalUrl};

pub const DIR_ENV: &str = "BALDUR_JOURNAL_DIR";
pub const DEFAULT_DIR: &str = "./baldur-data";

pub struct Globals {
    pub dir: PathBuf,
    pub segment_bytes: Option<u64>,
    /// True when `--dir` was given (examples printed by the demo repeat it).
    pub dir_given: bool,
    /// `--journal URL` naming another backend than a directory.
    pub url: Option<JournalUrl>,
    /// `--salvage`: read what can be read of a damaged journal, list the
    /// holes, exit 1 when there is one.
    pub salvage: bool,
    /// `--tier-dir`: read the segments retention moved there with the live
    /// ones, as one journal.
    pub tier_dir: Option<PathBuf>,
}

/// The holes salvage opens found, printed when the command ends.
static HOLES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

/// Keeps the holes of a salvage open, for [`take_holes`] (each once).
pub fn note_holes(journal: &DiskJournal) {
    let mut holes = HOLES.lock().unwrap_or_else(|e| e.into_inner());
    for hole in journal.holes() {
        let line = hole.to_string();
        if !holes.contains(&line) {
            holes.push(line);
        }
    }
}

/// The holes salvage opens found so far, one line each.
pub fn take_holes() -> Vec<String> {
    std::mem::take(&mut *HOLES.lock().unwrap_or_else(|e| e.into_inner()))
}

impl Globals {
    /// From `--dir` and `--journal` (a file URL or path is a directory).
    pub fn from_flags(
        dir: Option<PathBuf>,
        journal: Option<&str>,
        segment_bytes: Option<u64>,
    ) -> Result<Self> {
        let Some(text) = journal else {
            return Ok(Globals::new(dir, segment_bytes));
        };
        Ok(match JournalUrl::parse(text)? {
            JournalUrl::File(dir) => Globals::new(Some(dir), segment_bytes),
            url => Globals {
                url: Some(url),
                ..Globals::new(None, segment_bytes)
            },
        })
    }

    /// Refuses a non-file `--journal` for a command that needs the disk
    /// format.
    pub fn require_file(&self, command: &str) -> Result<()> {
        match &self.url {
            Some(url) => bail!(
                "`{command}` works on file journals only (--dir or --journal file:///path), \
                 not {url}"
            ),
            None => Ok(()),
        }
    }

    pub fn new(dir: Option<PathBuf>, segment_bytes: Option<u64>) -> Self {
        let dir_given = dir.is_some();
        let dir = dir
            .or_else(|| {
                std::env::var_os(DIR_ENV)
                    .filter(|d| !d.is_empty())
                    .map(PathBuf::from)
            })
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DIR));
        Globals {
            dir,
            segment_bytes,
            dir_given,
            url: None,
            salvage: false,
            tier_dir: None,
        }
    }
}

/// Fails unless `dir` exists and is a directory: a read-only command must
/// not create the journal it was asked to read.
pub fn require_dir(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(_) => bail!("{} is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "no journal at {}: the directory does not exist (give --dir, or create one with \
             `append`, `import` or `demo`)",
            dir.display()
        ),
        Err(e) => bail!("cannot read {}: {e}", dir.display()),
    }
}

/// A journal opened from the flags: the disk journal (whose own methods
/// some commands use), or any other backend.
pub enum Opened {
    Disk(Arc<DiskJournal>),
    Other(Arc<dyn EventJournal>),
}

impl Opened {
    pub fn journal(&self) -> &dyn EventJournal {
        match self {
            Opened::Disk(journal) => journal.as_ref(),
            Opened::Other(journal) => journal.as_ref(),
        }
    }

    pub fn shared(self) -> Arc<dyn EventJournal> {
        match self {
            Opened::Disk(journal) => journal,
            Opened::Other(journal) => journal,
        }
    }

    /// The largest record the journal accepts: the disk journal's own
    /// limit, else the disk default (1 MiB), which bounds input lines for
    /// every backend.
    pub fn max_record_bytes(&self) -> u64 {
        match self {
            Opened::Disk(journal) => journal.max_record_bytes(),
            Opened::Other(_) => baldur_journal::disk::DEFAULT_MAX_RECORD_BYTES,
        }
    }

    /// Another handle on the same journal (for a signal handler that
    /// syncs it); drop it before [`Opened::close`].
    pub fn share(&self) -> Arc<dyn EventJournal> {
        match self {
            Opened::Disk(journal) => journal.clone(),
            Opened::Other(journal) => journal.clone(),
        }
    }

    /// Closes a disk journal (syncing; errors reported), syncs others. A
    /// disk journal still shared elsewhere is synced, and closed when the
    /// last handle goes.
    pub fn close(self) -> Result<()> {
        match self {
            Opened::Disk(journal) => match Arc::try_unwrap(journal) {
                Ok(journal) => journal.close()?,
                Err(journal) => journal.sync()?,
            },
            Opened::Other(journal) => journal.sync()?,
        }
        Ok(())
    }
}

/// The journal read-only: a directory as [`open_read_only`] opens it, any
/// other URL through the library.
pub fn open_read(globals: &Globals) -> Result<Opened> {
    Ok(match &globals.url {
        None => Opened::Disk(Arc::new(open_read_only(globals)?)),
        Some(url) if globals.salvage => {
            bail!("--salvage reads file journals (--dir or --journal file:///path), not {url}")
        }
        Some(url) => Opened::Other(open_shared(url, true)?),
    })
}

/// A writer opened on first use: a command that fails before its first
/// write leaves no journal behind, and one that created the journal
/// directory but wrote nothing to it removes it again.
pub struct LazyWriter<'a> {
    globals: &'a Globals,
    durability: Durability,
    /// The outermost directory that opening the writer creates.
    creates: Option<PathBuf>,
    opened: Option<Opened>,
}

impl<'a> LazyWriter<'a> {
    /// Checks what can be checked without creating anything (a `--dir`
    /// that is a file; a `memory:` journal warns).
    /// A directory that holds files already is opened now (so a directory
    /// that is not a journal is named at once); a missing or empty one
    /// waits for the first write, its options checked now.
    pub fn new(globals: &'a Globals, durability: Durability) -> Result<Self> {
        let creates = match &globals.url {
            None => {
                refuse_non_directory(&globals.dir)?;
                writer_builder(globals, durability, None).validate()?;
                first_missing(&globals.dir)
            }
            Some(url) => {
                warn_if_memory(url);
                None
            }
        };
        let mut writer = LazyWriter {
            globals,
            durability,
            creates,
            opened: None,
        };
        let has_files = std::fs::read_dir(&globals.dir).is_ok_and(|mut d| d.next().is_some());
        if globals.url.is_none() && has_files {
            writer.open()?;
        }
        Ok(writer)
    }

    /// The writer, opened (and the journal created) on the first call.
    pub fn open(&mut self) -> Result<&Opened> {
        if self.opened.is_none() {
            let opened = match &self.globals.url {
                None => Opened::Disk(Arc::new(open_writer(self.globals, self.durability, None)?)),
                Some(url) => Opened::Other(open_shared(url, false)?),
            };
            self.opened = Some(opened);
        }
        Ok(self.opened.as_ref().expect("opened above"))
    }

    /// The largest record the journal accepts: its own limit once opened;
    /// before, the default (1 MiB), which no journal the command line opens
    /// exceeds (smaller segments only lower it).
    pub fn max_record_bytes(&self) -> u64 {
        self.opened.as_ref().map_or(
            baldur_journal::disk::DEFAULT_MAX_RECORD_BYTES,
            Opened::max_record_bytes,
        )
    }

    /// Closes the writer, if opened. When it created the journal's
    /// directory and the journal is still empty, the directory goes too.
    pub fn close(self) -> Result<()> {
        let Some(opened) = self.opened else {
            return Ok(());
        };
        let empty = opened
            .journal()
            .get_latest_sequence()
            .map(|latest| latest == 0);
        opened.close()?;
        if let (Some(created), Ok(true)) = (self.creates, empty) {
            std::fs::remove_dir_all(&created).map_err(|e| {
                anyhow::anyhow!("cannot remove the empty journal {}: {e}", created.display())
            })?;
        }
        Ok(())
    }
}

/// Says on stderr that a `memory:` journal written to is thrown away when
/// the process exits.
pub fn warn_if_memory(url: &JournalUrl) {
    if matches!(url, JournalUrl::Memory) {
        eprintln!(
            "warning: a memory: journal lives only as long as this process; what is written \
             to it is gone when the command exits"
        );
    }
}

/// Fails when `dir` exists but is not a directory (the same words for
/// readers and writers).
pub fn refuse_non_directory(dir: &Path) -> Result<()> {
    match std::fs::metadata(dir) {
        Ok(m) if !m.is_dir() => bail!("{} is not a directory", dir.display()),
        _ => Ok(()),
    }
}

/// Opens the journal read-only: nothing in the directory is created or
/// changed. Damage found on the way is a warning on stderr; the intact
/// prefix is served. Under `--salvage`, every readable record is served
/// and the holes are kept for the end of the command.
pub fn open_read_only(globals: &Globals) -> Result<DiskJournal> {
    require_dir(&globals.dir)?;
    open_dir_read_only(&globals.dir, globals.salvage, globals.tier_dir.as_deref())
}

/// [`open_read_only`] of a directory.
pub fn open_dir_read_only(dir: &Path, salvage: bool, tier: Option<&Path>) -> Result<DiskJournal> {
    let mut builder = DiskJournal::builder(dir)
        .read_only(true)
        .create_if_missing(false)
        .salvage(salvage);
    if let Some(tier) = tier {
        builder = builder.tier_dir(tier);
    }
    let journal = builder.open()?;
    if salvage {
        note_holes(&journal);
    } else {
        warn_about_damage(&journal);
    }
    Ok(journal)
}

/// The builder [`open_writer`] opens.
fn writer_builder(
    globals: &Globals,
    durability: Durability,
    default_segment_bytes: Option<u64>,
) -> DiskJournalBuilder {
    let mut builder = DiskJournal::builder(&globals.dir)
        .durability(durability)
        .create_if_missing(true);
    if let Some(bytes) = globals.segment_bytes.or(default_segment_bytes) {
        builder = builder.segment_bytes(bytes);
    }
    builder
}

/// Opens (creating when missing) the journal for writing.
pub fn open_writer(
    globals: &Globals,
    durability: Durability,
    default_segment_bytes: Option<u64>,
) -> Result<DiskJournal> {
    refuse_non_directory(&globals.dir)?;
    let builder = writer_builder(globals, durability, default_segment_bytes);
    let journal = builder.open()?;
    if let Some(asked) = globals.segment_bytes
        && asked != journal.segment_bytes()
    {
        eprintln!(
            "warning: --segment-bytes {asked} ignored: the journal exists with segments of {} bytes",
            journal.segment_bytes()
        );
    }
    let report = journal.recovery_report();
    if let Some(torn) = &report.torn_tail {
        eprintln!(
            "warning: recovered a torn tail: zeroed {} bytes of {} from byte {} ({})",
            torn.bytes,
            torn.path.display(),
            torn.offset,
            torn.reason
        );
    }
    Ok(journal)
}

fn warn_about_damage(journal: &DiskJournal) {
    let report = journal.recovery_report();
    if let Some(torn) = &report.torn_tail {
        eprintln!(
            "warning: {}: unreadable tail from byte {} ({} bytes: {}); reading the records before it",
            torn.path.display(),
            torn.offset,
            torn.bytes,
            torn.reason
        );
    }
    if let Some(corruption) = &report.corruption {
        eprintln!("warning: {corruption}; reading the records before it (run `verify`)");
    }
}

/// `always`, `every:N`, `interval:MS` or `os` (the library's one
/// vocabulary, `Durability`'s `FromStr` and `Display`).
pub fn parse_durability(text: &str) -> Result<Durability, String> {
    text.parse::<Durability>().map_err(|e| match e {
        baldur_journal::Error::InvalidOption(message) => message,
        other => other.to_string(),
    })
}

/// A byte count: digits with an optional K, M or G suffix (powers of
/// 1024; `KiB`, `MB` and the like are read the same way).
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let digits_end = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, suffix) = t.split_at(digits_end);
    let shift = match suffix.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 0,
        "k" | "kb" | "kib" => 10,
        "m" | "mb" | "mib" => 20,
        "g" | "gb" | "gib" => 30,
        _ => {
            return Err(format!(
                "expected a byte count like 65536, 64K or 16M, got {text:?}"
            ));
        }
    };
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("expected a byte count like 65536, 64K or 16M, got {text:?}"))?;
    n.checked_mul(1 << shift)
        .ok_or_else(|| format!("{text:?} is too large"))
}
/// The outermost missing directory on the way to `dir` (the one a writer
/// opening `dir` would create), or `None` when `dir` exists.
pub fn first_missing(dir: &Path) -> Option<PathBuf> {
    let mut missing = None;
    let mut at = Some(dir);
    while let Some(path) = at {
        if path.as_os_str().is_empty() || path.exists() {
            break;
        }
        missing = Some(path.to_path_buf());
        at = path.parent();
    }
    missing
}
