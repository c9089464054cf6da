//! The load a fault sequence runs under: a writer that INSERTs numbered rows through the write
//! endpoint, on kept and on fresh connections, and a reader that opens a fresh connection to
//! the read endpoint for each question. Both record every answer with the step it came in.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::observe::{
    ASK_TIMEOUT, Conn, ReadObs, ReadOutcome, WriteObs, WriteOutcome, client, identity, short,
};

/// A kept connection serves this many writes, then the writer takes a fresh one, so both
/// kinds of connection meet every fault.
const KEPT_WRITES: usize = 8;
const WRITE_EVERY: Duration = Duration::from_millis(25);
const READ_EVERY: Duration = Duration::from_millis(60);

pub const TABLE: &str = "CREATE TABLE IF NOT EXISTS fault_rows \
     (id bigint PRIMARY KEY, win int NOT NULL, node text NOT NULL)";

/// What the load saw, shared with the steps: they move `window` on.
#[derive(Debug)]
pub struct Recorder {
    started: Instant,
    window: AtomicUsize,
    stop: AtomicBool,
    writes: Mutex<Vec<WriteObs>>,
    reads: Mutex<Vec<ReadObs>>,
}

fn locked<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking task must not hide what was recorded before it.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Recorder {
    pub fn new() -> Arc<Recorder> {
        Arc::new(Recorder {
            started: Instant::now(),
            window: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            writes: Mutex::new(Vec::new()),
            reads: Mutex::new(Vec::new()),
        })
    }

    pub fn set_window(&self, w: usize) {
        self.window.store(w, Ordering::SeqCst);
    }

    pub fn window(&self) -> usize {
        self.window.load(Ordering::SeqCst)
    }

    pub fn now_ms(&self) -> u64 {
        u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    pub fn writes(&self) -> Vec<WriteObs> {
        locked(&self.writes).clone()
    }

    pub fn reads(&self) -> Vec<ReadObs> {
        locked(&self.reads).clone()
    }

    fn push_write(&self, id: i64, conn: Conn, outcome: WriteOutcome) {
        let obs = WriteObs {
            id,
            window: self.window(),
            at_ms: self.now_ms(),
            conn,
            outcome,
        };
        locked(&self.writes).push(obs);
    }

    fn push_read(&self, outcome: ReadOutcome) {
        let obs = ReadObs {
            window: self.window(),
            at_ms: self.now_ms(),
            outcome,
        };
        locked(&self.reads).push(obs);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// The running writer and reader.
pub struct Load {
    pub recorder: Arc<Recorder>,
    tasks: Vec<JoinHandle<()>>,
}

impl Load {
    pub fn start(recorder: Arc<Recorder>, write: SocketAddr, read: SocketAddr) -> Load {
        let tasks = vec![
            tokio::spawn(writer(recorder.clone(), write)),
            tokio::spawn(reader(recorder.clone(), read)),
        ];
        Load { recorder, tasks }
    }

    pub async fn stop(self) {
        self.recorder.stop();
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

/// A write connection and who said it was on the other end.
struct Session {
    client: Client,
    node: String,
    served: usize,
}

async fn open_session(write: SocketAddr) -> Result<Session, String> {
    let client = client(write, "mydatabase").await?;
    let (node, _) = identity(&client).await?;
    Ok(Session {
        client,
        node,
        served: 0,
    })
}

async fn writer(rec: Arc<Recorder>, write: SocketAddr) {
    let mut id: i64 = 0;
    let mut kept: Option<Session> = None;
    while !rec.stopped() {
        tokio::time::sleep(WRITE_EVERY).await;
        id += 1;
        let conn = if kept.is_some() {
            Conn::Kept
        } else {
            Conn::Fresh
        };
        let mut session = match kept.take() {
            Some(s) => s,
            None => match open_session(write).await {
                Ok(s) => s,
                Err(what) => {
                    rec.push_write(id, conn, WriteOutcome::Failed { what });
                    continue;
                }
            },
        };
        let window = i32::try_from(rec.window()).unwrap_or(i32::MAX);
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] = [&id, &window];
        let insert = session.client.query_one(
            "INSERT INTO fault_rows (id, win, node) \
             VALUES ($1, $2, current_setting('cluster_name')) RETURNING node",
            &params,
        );
        let outcome = match tokio::time::timeout(ASK_TIMEOUT, insert).await {
            Ok(Ok(row)) => {
                session.served += 1;
                let node: String = row.get(0);
                if session.served < KEPT_WRITES {
                    kept = Some(session);
                }
                WriteOutcome::Acked { node }
            }
            Ok(Err(e)) if e.code() == Some(&SqlState::READ_ONLY_SQL_TRANSACTION) => {
                WriteOutcome::ReadOnly {
                    node: Some(session.node.clone()),
                }
            }
            Ok(Err(e)) => WriteOutcome::Failed { what: short(&e) },
            Err(_) => WriteOutcome::Failed {
                what: "insert timed out".into(),
            },
        };
        rec.push_write(id, conn, outcome);
    }
}

async fn reader(rec: Arc<Recorder>, read: SocketAddr) {
    while !rec.stopped() {
        tokio::time::sleep(READ_EVERY).await;
        let outcome = match client(read, "mydatabase").await {
            Ok(c) => match identity(&c).await {
                Ok((node, in_recovery)) => ReadOutcome::Answered { node, in_recovery },
                Err(what) => ReadOutcome::Failed { what },
            },
            Err(what) => ReadOutcome::Failed { what },
        };
        rec.push_read(outcome);
    }
}
