//! Sending the queue: batches, and one event at a time when the hub refuses one.

use tokio_postgres::Client;

use super::{Delivery, lock};
use crate::classroom::connect::server_message;
use crate::classroom::guard::{self, Fate};
use crate::classroom::queue::{Queued, now_ms};

impl Delivery {
    /// Sends batches until the queue is empty, or until the hub asks for a pause.
    pub(super) async fn deliver_all(&self, client: &Client) -> Result<Flow, String> {
        loop {
            let queue = self.queue.clone();
            let batch_size = self.config.batch;
            let batch = tokio::task::spawn_blocking(move || lock(&queue).pending(batch_size))
                .await
                .map_err(|e| e.to_string())?;
            let Some(last) = batch.last().map(|q| q.seq) else {
                return Ok(Flow::Done);
            };
            let sent = tokio::time::timeout(
                self.config.timeout,
                deliver(client, self.membership.learner_id, &batch),
            )
            .await;
            let sifted = match sent {
                Ok(Ok(_)) => Sifted {
                    upto: Some(last),
                    delivered: batch.len() as u64,
                    ..Sifted::default()
                },
                Ok(Err(e)) => match guard::fate(e.code()) {
                    Fate::Refused => self.one_by_one(client, &batch).await,
                    Fate::Throttled => return Ok(Flow::Throttled),
                    Fate::Retry => return Err(delivery_error(&e)),
                },
                Err(_) => return Err("the hub did not answer in time".into()),
            };
            self.record(&sifted).await?;
            match sifted.stop {
                None => {}
                Some(Stop::Throttled) => return Ok(Flow::Throttled),
                Some(Stop::Failed(why)) => return Err(why),
            }
        }
    }

    /// A batch the hub refused: each event on its own, to find the ones it refuses.
    async fn one_by_one(&self, client: &Client, batch: &[Queued]) -> Sifted {
        let mut sifted = Sifted::default();
        for q in batch {
            let sent = tokio::time::timeout(
                self.config.timeout,
                deliver(client, self.membership.learner_id, std::slice::from_ref(q)),
            )
            .await;
            match sent {
                Ok(Ok(_)) => sifted.delivered += 1,
                Ok(Err(e)) => match guard::fate(e.code()) {
                    Fate::Refused => sifted.refused.push(refusal_note(q, &e)),
                    Fate::Throttled => {
                        sifted.stop = Some(Stop::Throttled);
                        break;
                    }
                    Fate::Retry => {
                        sifted.stop = Some(Stop::Failed(delivery_error(&e)));
                        break;
                    }
                },
                Err(_) => {
                    sifted.stop = Some(Stop::Failed("the hub did not answer in time".into()));
                    break;
                }
            }
            sifted.upto = Some(q.seq);
        }
        sifted
    }

    /// Marks what the hub took or refused as done with, on disk, then in the state.
    async fn record(&self, sifted: &Sifted) -> Result<(), String> {
        for why in &sifted.refused {
            tracing::warn!("class hub: {why}");
        }
        let Some(upto) = sifted.upto else {
            return Ok(());
        };
        let queue = self.queue.clone();
        let acked = tokio::task::spawn_blocking(move || {
            let mut q = lock(&queue);
            q.ack(upto).map(|()| q.len())
        })
        .await
        .map_err(|e| e.to_string())?;
        match acked {
            Ok(left) => {
                self.state.send_modify(|s| {
                    s.queued = left;
                    s.delivered += sifted.delivered;
                    s.refused += sifted.refused.len() as u64;
                    if let Some(last) = sifted.refused.last() {
                        s.last_refused = Some(last.clone());
                    }
                });
                Ok(())
            }
            // Not recorded: the batch goes again later, and the hub ignores it then.
            Err(e) => Err(format!("delivered, but {e}")),
        }
    }
}

/// The statement one batch goes in with. Times go as their age on the learner's clock when
/// sent (`$8`), taken from the hub's: a learner's clock that is off does not move them.
pub const INSERT_EVENTS: &str = "\
INSERT INTO classroom.events (learner_id, seq, kind, lesson, step, detail, happened_at)
SELECT $1, u.seq, u.kind, u.lesson, u.step, u.detail,
       now() - make_interval(secs => (greatest($8::bigint - u.at, 0) / 1000.0)::float8)
FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::jsonb[], $7::bigint[])
     AS u(seq, kind, lesson, step, detail, at)
ON CONFLICT (learner_id, seq) DO NOTHING";

/// Sends `batch` in one statement; returns how many rows were new to the hub.
pub async fn deliver(
    client: &Client,
    learner_id: i64,
    batch: &[Queued],
) -> Result<u64, tokio_postgres::Error> {
    let seqs: Vec<i64> = batch
        .iter()
        .map(|q| i64::try_from(q.seq).unwrap_or(i64::MAX))
        .collect();
    let kinds: Vec<&str> = batch.iter().map(|q| q.event.kind.as_str()).collect();
    let lessons: Vec<Option<&str>> = batch.iter().map(|q| q.event.lesson.as_deref()).collect();
    let steps: Vec<Option<&str>> = batch.iter().map(|q| q.event.step.as_deref()).collect();
    let details: Vec<&serde_json::Value> = batch.iter().map(|q| &q.event.detail).collect();
    let at: Vec<i64> = batch
        .iter()
        .map(|q| i64::try_from(q.event.happened_at).unwrap_or(i64::MAX))
        .collect();
    let sent_at = i64::try_from(now_ms()).unwrap_or(i64::MAX);
    client
        .execute(
            INSERT_EVENTS,
            &[
                &learner_id,
                &seqs,
                &kinds,
                &lessons,
                &steps,
                &details,
                &at,
                &sent_at,
            ],
        )
        .await
}

/// What the learner's side says when the hub asks for a pause.
pub(super) const THROTTLED: &str =
    "the hub takes events a little at a time (a limit per learner): the rest follow shortly";

/// Whether the queue is empty, or the hub asked for a pause.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Flow {
    Done,
    Throttled,
}

/// Why sending one event at a time stopped before the end of the batch.
#[derive(Debug)]
enum Stop {
    Throttled,
    Failed(String),
}

/// What sending a batch came to.
#[derive(Debug, Default)]
struct Sifted {
    /// Every event up to this one was taken or refused.
    upto: Option<u64>,
    delivered: u64,
    /// A note for each event refused.
    refused: Vec<String>,
    stop: Option<Stop>,
}

/// An event the hub refused for good, and why, for the learner and the log.
pub fn refusal_note(q: &Queued, e: &tokio_postgres::Error) -> String {
    let place = match (&q.event.lesson, &q.event.step) {
        (Some(l), Some(s)) => format!(" on {l} / {s}"),
        (Some(l), None) => format!(" on {l}"),
        _ => String::new(),
    };
    format!(
        "the hub refused event {} ({}{place}), which is dropped: {}",
        q.seq,
        q.event.kind.as_str(),
        server_message(e)
    )
}

/// A failed delivery, worded with what to do.
fn delivery_error(e: &tokio_postgres::Error) -> String {
    use tokio_postgres::error::SqlState;
    let cause = server_message(e);
    match e.code() {
        Some(c) if *c == SqlState::INSUFFICIENT_PRIVILEGE => format!(
            "the hub refused this learner's events ({cause}): the instructor may have removed \
             you from the class; join again (replica-lab classroom join)"
        ),
        Some(c) if *c == SqlState::UNDEFINED_TABLE || *c == SqlState::UNDEFINED_FUNCTION => {
            format!(
                "the hub has no classroom schema ({cause}): the instructor runs replica-lab \
                 classroom host"
            )
        }
        _ => format!("cannot deliver events to the hub: {cause}"),
    }
}
