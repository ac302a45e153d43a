//! The Kinesis and DynamoDB Streams poller (docs/reference.md §16.3, §16.4): one reader per
//! shard (a child after its parents end), records in order, a checkpoint kept in the store
//! after each batch, and AWS's failure handling: retries, partial batch responses, bisection,
//! record age, and the on-failure destination.

mod delivery;
mod window;

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;

use super::shards::{Shard, Stream, StreamRecord};
use super::status::MappingStatus;
use super::{filter, MappingSettings, Poller, Sources};
use crate::config::LogLevel;
use crate::store::Table;
use window::Window;

/// How often the shard list is read again (resharding, children of ended shards).
const DISCOVERY: Duration = Duration::from_secs(2);
/// The pause after an empty GetRecords (AWS reads each shard about once a second).
const IDLE: Duration = Duration::from_millis(250);
/// The longest pause after failed calls.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// The mapping was deleted or disabled while a batch was being delivered: its records are
/// left to the checkpoint (read again when the mapping is enabled), nothing is given up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stopped;

/// One shard's reader.
#[derive(Clone)]
struct ShardReader {
    sources: Sources,
    settings: watch::Receiver<Arc<MappingSettings>>,
    status: Arc<MappingStatus>,
    stream: Stream,
    role: String,
    shard: String,
    /// Shards read to their end (their children may start).
    ended: Arc<Mutex<HashSet<String>>>,
}

/// Poll the mapping's stream until the mapping is deleted (or the emulator stops).
pub async fn run(mut p: Poller) {
    let first = Arc::clone(&p.settings.borrow());
    let Some(stream) = Stream::of(&first.source_arn) else {
        p.status
            .quiet_problem("PROBLEM: the event source ARN names no stream");
        return;
    };
    let role = role_arn(&p.sources, &first.function_arn);
    let ended: Arc<Mutex<HashSet<String>>> = Arc::default();
    let mut started: HashSet<String> = HashSet::new();
    let mut readers = tokio::task::JoinSet::new();
    loop {
        let s = Arc::clone(&p.settings.borrow_and_update());
        if s.deleted {
            break;
        }
        if s.enabled {
            match stream.shards(&p.sources.client).await {
                Ok(shards) => {
                    let done = ended.lock().unwrap_or_else(PoisonError::into_inner).clone();
                    for shard in readable(&shards, &done) {
                        if started.insert(shard.id.clone()) {
                            readers.spawn(
                                ShardReader {
                                    sources: p.sources.clone(),
                                    settings: p.settings.clone(),
                                    status: Arc::clone(&p.status),
                                    stream: stream.clone(),
                                    role: role.clone(),
                                    shard: shard.id.clone(),
                                    ended: Arc::clone(&ended),
                                }
                                .run(),
                            );
                        }
                    }
                }
                Err(e) => problem(&p.status, &s.uuid, &format!("PROBLEM: {e}")),
            }
        }
        tokio::select! {
            () = tokio::time::sleep(DISCOVERY) => {}
            changed = p.settings.changed() => if changed.is_err() { break },
        }
    }
    while readers.join_next().await.is_some() {}
}

/// The shards that may be read now: those whose parents (a split's one, a merge's two) have
/// been read to their end, or have left the stream (trimmed after the retention period).
fn readable<'a>(shards: &'a [Shard], ended: &HashSet<String>) -> Vec<&'a Shard> {
    let known: HashSet<&str> = shards.iter().map(|s| s.id.as_str()).collect();
    shards
        .iter()
        .filter(|shard| {
            [&shard.parent, &shard.adjacent_parent]
                .into_iter()
                .flatten()
                .all(|parent| !known.contains(parent.as_str()) || ended.contains(parent))
        })
        .collect()
}

/// Count and show a failed call to the stream (logged when it changes).
fn problem(status: &MappingStatus, uuid: &str, text: &str) {
    MappingStatus::add(&status.poll_errors, 1);
    status.problem(uuid, text);
}

/// The role ARN records carry as `invokeIdentityArn`: the function's `Role` when it was
/// created through the API, else a role named after the function.
fn role_arn(sources: &Sources, function_arn: &str) -> String {
    let name = crate::invoke_api::routing::split(function_arn)
        .name
        .to_owned();
    sources
        .store
        .get(&name)
        .ok()
        .flatten()
        .and_then(|doc| {
            doc.pointer("/latest/Role")
                .and_then(Value::as_str)
                .map(str::to_owned)
        })
        .unwrap_or_else(|| {
            format!(
                "arn:aws:iam::{}:role/{name}-role",
                sources.registry.account_id()
            )
        })
}

impl ShardReader {
    fn checkpoint(&self, uuid: &str) -> Option<String> {
        let doc = self.sources.store.document(Table::Checkpoints, uuid)?;
        doc[&self.shard].as_str().map(str::to_owned)
    }

    /// Where the shard's open tumbling window is kept, beside its checkpoint.
    fn window_key(&self) -> String {
        format!("{}#window", self.shard)
    }

    /// The shard's open tumbling window, as last kept.
    fn kept_window(&self, uuid: &str) -> Option<Window> {
        let doc = self.sources.store.document(Table::Checkpoints, uuid)?;
        Window::from_stored(doc.get(self.window_key())?)
    }

    /// Keep the shard's checkpoint (when it moved) and its open window (with windows on).
    fn save_checkpoint(&self, uuid: &str, sequence: Option<&str>, window: Option<&Option<Window>>) {
        let store = &self.sources.store;
        let mut doc = store
            .document(Table::Checkpoints, uuid)
            .unwrap_or_else(|| json!({}));
        if let Some(sequence) = sequence {
            doc[&self.shard] = json!(sequence);
        }
        if let (Some(window), Some(fields)) = (window, doc.as_object_mut()) {
            match window {
                Some(w) => fields.insert(self.window_key(), w.stored()),
                None => fields.remove(&self.window_key()),
            };
        }
        if let Err(e) = store.put_document(Table::Checkpoints, uuid, &doc) {
            super::log(LogLevel::Error, uuid, &format!("checkpoint not kept: {e}"));
        }
    }

    /// Whether the mapping is deleted or disabled: batches in delivery stop.
    fn stopped(&self) -> bool {
        self.settings.borrow().stopped()
    }

    /// Wait `pause`, or less when the mapping is deleted or disabled meanwhile (then `Stopped`).
    async fn pause(&self, pause: Duration) -> Result<(), Stopped> {
        let mut settings = self.settings.clone();
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            _ = settings.wait_for(|s| s.stopped()) => {}
        }
        if self.stopped() {
            Err(Stopped)
        } else {
            Ok(())
        }
    }

    /// Read the shard to its end (or until the mapping is deleted).
    async fn run(mut self) {
        let mut iterator: Option<String> = None;
        let mut backoff = Duration::from_secs(1);
        let uuid = self.settings.borrow().uuid.clone();
        let mut window: Option<Window> = self.kept_window(&uuid);
        loop {
            let s = Arc::clone(&self.settings.borrow_and_update());
            if s.deleted {
                return;
            }
            if !s.enabled {
                if self.settings.changed().await.is_err() {
                    return;
                }
                iterator = None;
                continue;
            }
            let client = self.sources.client.clone();
            let it = if let Some(it) = iterator.take() {
                it
            } else {
                let position = s.starting_position.as_deref().unwrap_or("LATEST");
                let checkpoint = self.checkpoint(&s.uuid);
                let at = s.starting_timestamp;
                let shard = &self.shard;
                match self
                    .stream
                    .iterator(&client, shard, checkpoint.as_deref(), position, at)
                    .await
                {
                    Ok(it) => it,
                    Err(e) => {
                        problem(&self.status, &s.uuid, &format!("PROBLEM: {e}"));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                        continue;
                    }
                }
            };
            let (records, next) = match self.gather(&s, it).await {
                Ok(r) => r,
                Err(e) => {
                    if e.code() != Some("ExpiredIteratorException") {
                        problem(&self.status, &s.uuid, &format!("PROBLEM: {e}"));
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(MAX_BACKOFF);
                    }
                    continue;
                }
            };
            backoff = Duration::from_secs(1);
            let windowed = !s.tumbling_window.is_zero();
            let Some(last) = records.last().map(|r| r.sequence.clone()) else {
                if windowed && window.is_some() {
                    let closed = if next.is_none() {
                        // The shard has ended: so has its window.
                        self.close_window(&s, &mut window, window::Flags::LAST)
                            .await
                    } else {
                        self.close_if_over(&s, &mut window).await
                    };
                    if closed.is_err() {
                        continue; // from the checkpoint, once enabled again
                    }
                    if window.is_none() {
                        self.save_checkpoint(&s.uuid, None, Some(&window));
                    }
                }
                if next.is_none() {
                    self.ended
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .insert(self.shard.clone());
                    return;
                }
                iterator = next;
                tokio::time::sleep(IDLE).await;
                continue;
            };
            let total = records.len();
            let kept: Vec<StreamRecord> = records
                .into_iter()
                .filter(|r| s.filters.matches(&filter::view(s.kind, &r.event)))
                .collect();
            MappingStatus::add(&self.status.filtered, (total - kept.len()) as u64);
            if windowed {
                if self.deliver_windowed(&s, kept, &mut window).await.is_err() {
                    // Read again from the checkpoint, with the window kept beside it.
                    window = self.kept_window(&uuid);
                    continue;
                }
                self.save_checkpoint(&s.uuid, Some(&last), Some(&window));
            } else {
                if self.deliver_lanes(&s, kept).await.is_err() {
                    continue; // read again from the checkpoint, once enabled again
                }
                self.save_checkpoint(&s.uuid, Some(&last), None);
            }
            // A closed shard read to its end: the next iterator (after the checkpoint) says so.
            iterator = next;
        }
    }

    /// Records from `it` until the batch is full, the window ends or the shard has no more.
    async fn gather(
        &self,
        s: &MappingSettings,
        it: String,
    ) -> Result<(Vec<StreamRecord>, Option<String>), crate::aws_client::AwsError> {
        let client = &self.sources.client;
        let started = tokio::time::Instant::now();
        let mut records = Vec::new();
        let mut next = Some(it);
        while let Some(it) = next.take() {
            let page = self
                .stream
                .records(
                    client,
                    &self.shard,
                    &it,
                    s.batch_size - records.len(),
                    &self.role,
                )
                .await?;
            let empty = page.records.is_empty();
            records.extend(page.records);
            next = page.next;
            let left = s.window.saturating_sub(started.elapsed());
            if records.len() >= s.batch_size || left.is_zero() || next.is_none() {
                break;
            }
            if empty {
                tokio::time::sleep(left.min(IDLE)).await;
            }
        }
        Ok((records, next))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parent: Option<&str>, adjacent: Option<&str>) -> Shard {
        Shard {
            id: id.to_owned(),
            parent: parent.map(str::to_owned),
            adjacent_parent: adjacent.map(str::to_owned),
        }
    }

    fn ids(shards: &[Shard], ended: &[&str]) -> Vec<String> {
        let ended: HashSet<String> = ended.iter().map(|s| (*s).to_owned()).collect();
        readable(shards, &ended)
            .into_iter()
            .map(|s| s.id.clone())
            .collect()
    }

    #[test]
    fn the_children_of_a_split_wait_for_their_parent_to_end() {
        let shards = [
            shard("p", None, None),
            shard("c1", Some("p"), None),
            shard("c2", Some("p"), None),
        ];
        assert_eq!(ids(&shards, &[]), ["p"]);
        assert_eq!(ids(&shards, &["p"]), ["p", "c1", "c2"]);
    }

    #[test]
    fn a_merged_shard_waits_for_both_parents() {
        let shards = [
            shard("a", None, None),
            shard("b", None, None),
            shard("m", Some("a"), Some("b")),
        ];
        assert_eq!(ids(&shards, &["a"]), ["a", "b"]);
        assert_eq!(ids(&shards, &["a", "b"]), ["a", "b", "m"]);
    }

    #[test]
    fn a_shard_whose_parent_left_the_stream_is_read_at_once() {
        let shards = [shard("c", Some("trimmed"), None)];
        assert_eq!(ids(&shards, &[]), ["c"]);
    }
}
