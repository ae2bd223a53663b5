//! The asynchronous persister: a background thread, fed by a bounded
//! channel, that appends queued snapshots in batches. `flush` waits until
//! everything queued before it is appended and folded.

use std::sync::Arc;
use std::thread::JoinHandle;

use crossbeam_channel::{Receiver, Sender, bounded};

use crate::entry::JournalEntry;
use crate::error::{Error, Result};

/// Where the persister's batches go: the statistics' shared state appends
/// them (chaining them when configured) and folds what was appended.
pub(crate) trait PersistTarget: Send + Sync + 'static {
    /// Appends the events, in order.
    fn append_all(&self, events: &[JournalEntry]) -> Result<()>;
    /// Folds everything appended so far.
    fn refresh(&self) -> Result<()>;
}

/// The persister's name: its thread's name, and what
/// `get_async_persist_task_name` returns.
pub const ASYNC_PERSIST_TASK_NAME: &str = "baldur-journal.statistics.persister";
/// The default number of queued `persist_entry` calls before the next one
/// blocks.
pub const DEFAULT_PERSIST_QUEUE_DEPTH: usize = 1024;
/// The largest queue depth accepted.
pub const PERSIST_QUEUE_DEPTH_MAX: usize = 65_536;
/// Queued requests taken per batch, at most.
const PERSIST_BATCH_REQUESTS_MAX: usize = 1024;

enum Command {
    /// Append these events.
    Append(Vec<JournalEntry>),
    /// Append what is queued, fold, and answer.
    Flush(Sender<Result<()>>),
}

/// The handle of the background persister. Dropping it drains the queue
/// and joins the thread.
pub(crate) struct Persister {
    sender: Option<Sender<Command>>,
    thread: Option<JoinHandle<()>>,
}

impl Persister {
    pub(crate) fn start<T: PersistTarget + ?Sized>(
        shared: Arc<T>,
        queue_depth: usize,
    ) -> Result<Self> {
        let (sender, receiver) = bounded(queue_depth);
        let thread = std::thread::Builder::new()
            .name(ASYNC_PERSIST_TASK_NAME.into())
            .spawn(move || run(&*shared, &receiver))
            .map_err(|e| Error::io(ASYNC_PERSIST_TASK_NAME, e))?;
        Ok(Persister {
            sender: Some(sender),
            thread: Some(thread),
        })
    }

    fn send(&self, command: Command) -> Result<()> {
        let sender = self.sender.as_ref().ok_or(Error::Closed)?;
        // Blocks while the queue is full: back-pressure, never a silent drop.
        sender.send(command).map_err(|_| Error::Closed)
    }

    /// Queues events; returns once they are queued.
    pub(crate) fn queue(&self, events: Vec<JournalEntry>) -> Result<()> {
        if events.is_empty() {
            return Ok(());
        }
        self.send(Command::Append(events))
    }

    /// Waits until everything queued so far is appended and folded. Returns
    /// the first append failure since the last flush, if any.
    pub(crate) fn flush(&self) -> Result<()> {
        let (reply, answer) = bounded(1);
        self.send(Command::Flush(reply))?;
        answer.recv().map_err(|_| Error::Closed)?
    }
}

impl Drop for Persister {
    fn drop(&mut self) {
        // Closing the channel ends the thread once it has drained the queue.
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run<T: PersistTarget + ?Sized>(shared: &T, receiver: &Receiver<Command>) {
    let mut batch: Vec<JournalEntry> = Vec::new();
    let mut failure: Option<Error> = None;
    while let Ok(first) = receiver.recv() {
        let mut next = Some(first);
        let mut taken = 0;
        while let Some(command) = next.take() {
            taken += 1;
            match command {
                Command::Append(events) => batch.extend(events),
                Command::Flush(reply) => {
                    write(shared, &mut batch, &mut failure);
                    let answer = match failure.take() {
                        Some(error) => Err(error),
                        None => shared.refresh(),
                    };
                    let _ = reply.send(answer);
                }
            }
            if taken < PERSIST_BATCH_REQUESTS_MAX {
                next = receiver.try_recv().ok();
            }
        }
        write(shared, &mut batch, &mut failure);
    }
}

/// Appends the batch; keeps the first failure for the next flush.
fn write<T: PersistTarget + ?Sized>(
    shared: &T,
    batch: &mut Vec<JournalEntry>,
    failure: &mut Option<Error>,
) {
    if batch.is_empty() {
        return;
    }
    if let Err(error) = shared.append_all(batch) {
        failure.get_or_insert(error);
    }
    batch.clear();
}
