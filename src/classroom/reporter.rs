//! Delivers the learner's queued events to the hub and hands on what the instructor sends.
//!
//! One task per learner: it connects as the learner's own role, sends the queue in batches
//! (one `INSERT` per batch; the hub ignores a (learner, seq) it already has, so a batch whose
//! acknowledgement was lost is simply sent again), marks a batch delivered only after the hub
//! committed it, and when the hub cannot be reached waits a little longer each time (capped)
//! before trying again. On the same connection it listens on the session's channel and reads
//! the new broadcasts, drills and pace.
//!
//! The hub may refuse an event for good (an unknown lesson, a time out of range, see
//! [`super::guard`]): the batch is then sent one event at a time, and each event refused is dropped
//! with a note, so one bad event never holds up those behind it. When the hub says events
//! come too fast, the same events go again a little later.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio_postgres::Client;

use super::connect::{Hub, connect, server_message};
use super::membership::Membership;
use super::queue::{ClassEvent, Queue, QueueError};

mod send;
use send::{Flow, THROTTLED};
pub use send::{INSERT_EVENTS, deliver, refusal_note};

/// What the instructor sent, for the app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClassMsg {
    Broadcast(String),
    /// Lessons unlocked up to N (1-based); `None`: all.
    Pace(Option<u32>),
    Drill {
        id: i64,
        action: String,
        note: String,
    },
}

/// How delivery stands, for the title bar.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReporterState {
    pub connected: bool,
    /// Events on disk the hub does not have yet.
    pub queued: usize,
    /// Why the last try failed, with the fix; cleared once the hub answers again.
    pub last_error: Option<String>,
    /// Events delivered since the reporter started.
    pub delivered: u64,
    /// Events the hub refused for good since the reporter started; they were dropped.
    pub refused: u64,
    /// The last of them, and why.
    pub last_refused: Option<String>,
}

#[derive(Clone, Debug)]
pub struct ReporterConfig {
    /// Events per `INSERT`; at most [`super::guard::RATE_EVENTS`], or a full batch could never pass
    /// the hub's rate limit.
    pub batch: usize,
    pub backoff_min: Duration,
    pub backoff_max: Duration,
    /// How long one delivery may take before the connection is given up as dead.
    pub timeout: Duration,
    /// How often an idle connection is checked (a network that drops without a word).
    pub ping_every: Duration,
    /// How long to wait when the hub says events come too fast.
    pub throttle_wait: Duration,
    /// Listen for broadcasts, drills and pace.
    pub listen: bool,
    pub application_name: String,
}

impl Default for ReporterConfig {
    fn default() -> Self {
        ReporterConfig {
            batch: 100,
            backoff_min: Duration::from_millis(500),
            backoff_max: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
            ping_every: Duration::from_secs(20),
            throttle_wait: Duration::from_secs(2),
            listen: true,
            application_name: "replica-lab learner".into(),
        }
    }
}

/// The next wait after a failed try: doubled, within the bounds.
pub fn next_backoff(current: Duration, config: &ReporterConfig) -> Duration {
    (current * 2).clamp(config.backoff_min, config.backoff_max)
}

/// Drills sent longer ago than this are stale: a learner who comes back after a break does
/// not get a fault the class has moved past.
pub const DRILL_FRESH_FOR: Duration = Duration::from_secs(120);

/// The channel the hub notifies a session's learners on.
pub fn session_channel(session_id: i64) -> String {
    format!("classroom_session_{session_id}")
}

/// What a notification's payload (`<kind>:<id>`) asks to read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refresh {
    Broadcasts,
    Drills,
    Pace,
    All,
}

pub fn refresh_for(payload: &str) -> Refresh {
    match payload.split(':').next().unwrap_or_default() {
        "broadcast" => Refresh::Broadcasts,
        "drill" => Refresh::Drills,
        "pace" => Refresh::Pace,
        _ => Refresh::All,
    }
}

/// The newest broadcast and drill handed on: a reconnect does not hand them on again.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Seen {
    pub broadcast: i64,
    pub drill: i64,
    pub pace: Option<Option<u32>>,
}

pub struct Reporter {
    pub state: watch::Receiver<ReporterState>,
    queue: Arc<Mutex<Queue>>,
    queue_dir: std::path::PathBuf,
    state_tx: Arc<watch::Sender<ReporterState>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How long [`Reporter::stop`] waits for a disk write in flight to finish.
const STOP_WAIT: Duration = Duration::from_secs(5);

impl Reporter {
    /// Starts delivering `queue` for `membership`; what the instructor sends goes to `messages`.
    pub fn spawn(
        membership: Membership,
        queue: Queue,
        config: ReporterConfig,
        messages: mpsc::Sender<ClassMsg>,
    ) -> Reporter {
        let queued = queue.len();
        let queue_dir = queue.dir().to_path_buf();
        let (state_tx, state) = watch::channel(ReporterState {
            queued,
            ..ReporterState::default()
        });
        let state_tx = Arc::new(state_tx);
        let queue = Arc::new(Mutex::new(queue));
        let wake = Arc::new(Notify::new());
        let task = tokio::spawn(
            Delivery {
                membership,
                config,
                queue: queue.clone(),
                state: state_tx.clone(),
                wake: wake.clone(),
                messages,
                seen: None,
            }
            .run(),
        );
        Reporter {
            state,
            queue,
            queue_dir,
            state_tx,
            wake,
            task,
        }
    }

    /// Queues `event` on disk (off the async workers) and wakes the delivery; returns its number.
    pub async fn push(&self, event: ClassEvent) -> Result<u64, QueueError> {
        let queue = self.queue.clone();
        let pushed = tokio::task::spawn_blocking(move || {
            let mut q = lock(&queue);
            q.push(event).map(|seq| (seq, q.len()))
        })
        .await
        .map_err(|e| QueueError::Io {
            path: self.queue_dir.clone(),
            source: std::io::Error::other(e),
        })??;
        self.state_tx.send_modify(|s| s.queued = pushed.1);
        self.wake.notify_one();
        Ok(pushed.0)
    }

    /// Stops delivering and hands the queue back (so it can be opened again); `None` when a
    /// disk write in flight did not finish in time.
    pub async fn stop(self) -> Option<Queue> {
        self.task.abort();
        let mut queue = self.queue.clone();
        drop(self);
        let deadline = tokio::time::Instant::now() + STOP_WAIT;
        loop {
            match Arc::try_unwrap(queue) {
                Ok(m) => {
                    return Some(
                        m.into_inner()
                            .unwrap_or_else(std::sync::PoisonError::into_inner),
                    );
                }
                Err(still) if tokio::time::Instant::now() < deadline => {
                    queue = still;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Err(_) => return None,
            }
        }
    }

    /// Waits until nothing is queued, up to `limit`; true when everything was delivered.
    pub async fn flush(&self, limit: Duration) -> bool {
        self.wake.notify_one();
        let mut state = self.state.clone();
        let done = state.wait_for(|s| s.queued == 0);
        matches!(tokio::time::timeout(limit, done).await, Ok(Ok(_)))
    }
}

fn lock(queue: &Mutex<Queue>) -> std::sync::MutexGuard<'_, Queue> {
    // A panic while holding it left the queue as on disk; go on with it.
    queue
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

struct Delivery {
    membership: Membership,
    config: ReporterConfig,
    queue: Arc<Mutex<Queue>>,
    state: Arc<watch::Sender<ReporterState>>,
    wake: Arc<Notify>,
    messages: mpsc::Sender<ClassMsg>,
    /// `None` until the first connection has read where the instructor's messages stand.
    seen: Option<Seen>,
}

impl Delivery {
    async fn run(mut self) {
        let mut backoff = self.config.backoff_min;
        loop {
            let hub = match connect(&self.membership.hub_url, &self.config.application_name).await {
                Ok(hub) => hub,
                Err(e) => {
                    self.failed(e.to_string());
                    tokio::time::sleep(backoff).await;
                    backoff = next_backoff(backoff, &self.config);
                    continue;
                }
            };
            let why = self.connected(hub, &mut backoff).await;
            self.failed(why);
            tokio::time::sleep(backoff).await;
            backoff = next_backoff(backoff, &self.config);
        }
    }

    fn failed(&self, why: String) {
        tracing::info!("class hub: {why}");
        self.state.send_modify(|s| {
            s.connected = false;
            s.last_error = Some(why);
        });
    }

    /// Delivers and listens on one connection; returns why it ended.
    async fn connected(&mut self, mut hub: Hub, backoff: &mut Duration) -> String {
        let client = &hub.client;
        if self.config.listen {
            let listen = format!("LISTEN {}", session_channel(self.membership.session_id));
            if let Err(e) = client.batch_execute(&listen).await {
                return format!("cannot listen for the instructor: {}", server_message(&e));
            }
            if let Err(e) = self.refresh_in_time(client, Refresh::All).await {
                return e;
            }
        }
        self.state.send_modify(|s| {
            s.connected = true;
            s.last_error = None;
        });
        loop {
            let flow = match self.deliver_all(client).await {
                Ok(flow) => flow,
                Err(e) => return e,
            };
            // The hub answered: the next failure starts with a short wait again.
            *backoff = self.config.backoff_min;
            let throttled = flow == Flow::Throttled;
            self.state.send_if_modified(|s| {
                let note = throttled.then(|| THROTTLED.to_string());
                let changed = s.last_error != note;
                s.last_error = note;
                changed
            });
            let idle = if throttled {
                self.config.throttle_wait
            } else {
                self.config.ping_every
            };
            tokio::select! {
                () = self.wake.notified() => {}
                n = hub.notifications.recv() => match n {
                    Some(n) => {
                        let mut what = refresh_for(n.payload());
                        // Several at once: read each kind once.
                        while let Ok(more) = hub.notifications.try_recv() {
                            if refresh_for(more.payload()) != what {
                                what = Refresh::All;
                            }
                        }
                        if let Err(e) = self.refresh_in_time(client, what).await {
                            return e;
                        }
                    }
                    None => return "the connection to the hub ended".into(),
                },
                () = tokio::time::sleep(idle), if throttled => {}
                () = tokio::time::sleep(idle), if !throttled => {
                    let ping = tokio::time::timeout(self.config.timeout, client.simple_query("")).await;
                    match ping {
                        Ok(Ok(_)) => {}
                        Ok(Err(e)) => return server_message(&e),
                        Err(_) => return "the hub stopped answering".into(),
                    }
                }
            }
        }
    }

    /// [`Delivery::refresh`], given up as a dead connection when the hub does not answer.
    async fn refresh_in_time(&mut self, client: &Client, what: Refresh) -> Result<(), String> {
        let timeout = self.config.timeout;
        match tokio::time::timeout(timeout, self.refresh(client, what)).await {
            Ok(done) => done,
            Err(_) => Err("the hub stopped answering".into()),
        }
    }

    /// Reads what changed on the hub and hands on what is new.
    async fn refresh(&mut self, client: &Client, what: Refresh) -> Result<(), String> {
        let first = self.seen.is_none();
        let mut seen = self.seen.unwrap_or(Seen {
            broadcast: self.membership.seen_broadcast,
            drill: self.membership.seen_drill,
            pace: None,
        });
        let mut out = Vec::new();
        let session = self.membership.session_id;
        let read = |e: tokio_postgres::Error| {
            format!(
                "cannot read the instructor's messages: {}",
                server_message(&e)
            )
        };
        if matches!(what, Refresh::Pace | Refresh::All) {
            let row = client
                .query_opt(
                    "SELECT pace FROM classroom.sessions WHERE id = $1",
                    &[&session],
                )
                .await
                .map_err(read)?;
            let pace = row
                .and_then(|r| r.get::<_, Option<i32>>(0))
                .and_then(|n| u32::try_from(n).ok());
            if seen.pace != Some(pace) {
                seen.pace = Some(pace);
                out.push(ClassMsg::Pace(pace));
            }
        }
        if matches!(what, Refresh::Broadcasts | Refresh::All) {
            let rows = client
                .query(
                    "SELECT id, message FROM classroom.broadcasts \
                     WHERE session_id = $1 AND id > $2 ORDER BY id",
                    &[&session, &seen.broadcast],
                )
                .await
                .map_err(read)?;
            // Starting the app shows the newest message since joining, not the whole history.
            let skip = if first {
                rows.len().saturating_sub(1)
            } else {
                0
            };
            for r in rows.iter().skip(skip) {
                out.push(ClassMsg::Broadcast(r.get(1)));
            }
            if let Some(r) = rows.last() {
                seen.broadcast = r.get(0);
            }
        }
        if matches!(what, Refresh::Drills | Refresh::All) {
            let rows = client
                .query(
                    "SELECT id, action, note, started_at > now() - make_interval(secs => $3) \
                     FROM classroom.drills WHERE session_id = $1 AND id > $2 ORDER BY id",
                    &[&session, &seen.drill, &DRILL_FRESH_FOR.as_secs_f64()],
                )
                .await
                .map_err(read)?;
            for r in &rows {
                seen.drill = r.get(0);
                if r.get::<_, bool>(3) {
                    out.push(ClassMsg::Drill {
                        id: r.get(0),
                        action: r.get(1),
                        note: r.get(2),
                    });
                }
            }
        }
        self.seen = Some(seen);
        for m in out {
            // The app is gone: nobody to tell.
            if self.messages.send(m).await.is_err() {
                break;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let c = ReporterConfig::default();
        let mut d = c.backoff_min;
        let mut seen = vec![d];
        for _ in 0..8 {
            d = next_backoff(d, &c);
            seen.push(d);
        }
        assert_eq!(seen[0], Duration::from_millis(500));
        assert_eq!(seen[1], Duration::from_secs(1));
        assert_eq!(seen[4], Duration::from_secs(8));
        assert_eq!(seen[5], Duration::from_secs(10));
        assert_eq!(*seen.last().expect("some"), Duration::from_secs(10));
    }

    #[test]
    fn payloads_say_what_to_read() {
        assert_eq!(refresh_for("broadcast:12"), Refresh::Broadcasts);
        assert_eq!(refresh_for("drill:3"), Refresh::Drills);
        assert_eq!(refresh_for("pace:1"), Refresh::Pace);
        assert_eq!(refresh_for("something new"), Refresh::All);
        assert_eq!(session_channel(42), "classroom_session_42");
    }
}
