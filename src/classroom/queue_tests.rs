use serde_json::json;

use super::*;

fn ev(n: u64) -> ClassEvent {
    ClassEvent {
        kind: EventKind::Checked,
        lesson: Some("01-basics".into()),
        step: Some("insert-row".into()),
        detail: json!({ "passing": n }),
        happened_at: 1_700_000_000_000 + n,
    }
}

fn seqs(q: &Queue) -> Vec<u64> {
    q.pending(usize::MAX).iter().map(|e| e.seq).collect()
}

#[test]
fn numbers_grow_and_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    assert_eq!(q.push(ev(1)).expect("push"), 1);
    assert_eq!(q.push(ev(2)).expect("push"), 2);
    drop(q);
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [1, 2]);
    assert_eq!(q.pending(1)[0].event, ev(1));
    assert_eq!(q.push(ev(3)).expect("push"), 3);
    assert!(q.warnings.is_empty());
}

#[test]
fn acked_events_are_not_pending_again_and_numbers_go_on_after_compaction() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    for n in 1..=5 {
        q.push(ev(n)).expect("push");
    }
    q.ack(3).expect("ack");
    assert_eq!(seqs(&q), [4, 5]);
    drop(q);
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [4, 5]);
    q.ack(5).expect("ack all");
    assert!(q.is_empty());
    let text = fs::read_to_string(dir.path().join(EVENTS)).expect("read");
    assert_eq!(
        text, "{\"floor\":6}\n",
        "everything delivered: only the floor"
    );
    drop(q);
    // Even without the acked file, numbers never repeat.
    let _ = fs::remove_file(dir.path().join(ACKED));
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert!(q.is_empty());
    assert_eq!(q.push(ev(6)).expect("push"), 6);
}

#[test]
fn acking_twice_or_beyond_the_end_is_harmless() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    q.push(ev(1)).expect("push");
    q.ack(1).expect("ack");
    q.ack(1).expect("ack again");
    q.ack(99).expect("ack beyond");
    assert_eq!(q.acked(), 1);
    assert_eq!(q.push(ev(2)).expect("push"), 2);
}

#[test]
fn a_torn_last_line_is_dropped_with_a_warning() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    q.push(ev(1)).expect("push");
    q.push(ev(2)).expect("push");
    drop(q);
    let path = dir.path().join(EVENTS);
    let mut f = OpenOptions::new().append(true).open(&path).expect("open");
    f.write_all(b"{\"seq\":3,\"kind\":\"chec").expect("write");
    drop(f);
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [1, 2]);
    assert_eq!(q.warnings.len(), 1, "{:?}", q.warnings);
    assert!(q.warnings[0].contains("cut short"), "{:?}", q.warnings);
    // The next event takes the torn one's number: that one was never reported queued.
    assert_eq!(q.push(ev(3)).expect("push"), 3);
    drop(q);
    let q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [1, 2, 3]);
    assert!(q.warnings.is_empty());
}

/// A kill can stop an append after any byte: every cut opens, keeps exactly the events
/// whose lines are whole, and numbers on from there.
#[test]
fn a_cut_at_any_byte_keeps_every_whole_event() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    for n in 1..=3 {
        q.push(ev(n)).expect("push");
    }
    drop(q);
    let path = dir.path().join(EVENTS);
    let full = fs::read(&path).expect("read");
    let ends: Vec<usize> = full
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    for cut in 0..=full.len() {
        fs::write(&path, &full[..cut]).expect("cut");
        let mut q = Queue::open(dir.path()).expect("opens after any cut");
        let whole = ends.iter().filter(|e| **e <= cut).count() as u64;
        assert_eq!(seqs(&q), (1..=whole).collect::<Vec<_>>(), "cut at {cut}");
        assert_eq!(
            q.warnings.is_empty(),
            ends.contains(&cut) || cut == 0,
            "cut at {cut}"
        );
        assert_eq!(q.push(ev(9)).expect("push"), whole + 1, "cut at {cut}");
    }
}

#[test]
fn zeros_at_the_end_and_a_bad_line_in_the_middle_are_dropped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    q.push(ev(1)).expect("push");
    drop(q);
    let path = dir.path().join(EVENTS);
    let mut bytes = fs::read(&path).expect("read");
    bytes.extend_from_slice(b"garbage\n");
    bytes.extend_from_slice(
        &serde_json::to_vec(&Queued {
            seq: 2,
            event: ev(2),
        })
        .expect("json"),
    );
    bytes.push(b'\n');
    bytes.extend_from_slice(&[0, 0, 0, 0, b'\n']);
    fs::write(&path, &bytes).expect("write");
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [1, 2]);
    assert_eq!(q.warnings.len(), 2, "{:?}", q.warnings);
    assert_eq!(q.push(ev(3)).expect("push"), 3);
    drop(q);
    let q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(seqs(&q), [1, 2, 3]);
    assert!(q.warnings.is_empty(), "repaired: {:?}", q.warnings);
}

#[test]
fn only_one_app_holds_the_queue() {
    let dir = tempfile::tempdir().expect("tempdir");
    let q = Queue::open(dir.path()).expect("open");
    let err = Queue::open(dir.path()).expect_err("held");
    assert!(matches!(err, QueueError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("REPLICA_LAB_CLASSROOM_DIR"));
    drop(q);
    Queue::open(dir.path()).expect("free again");
}

#[test]
fn a_slow_hub_does_not_let_the_file_grow_without_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut q = Queue::open(dir.path()).expect("open");
    for n in 1..=(COMPACT_AFTER as u64 + 10) {
        q.push(ev(n)).expect("push");
    }
    q.ack(COMPACT_AFTER as u64 + 5).expect("ack");
    let text = fs::read_to_string(dir.path().join(EVENTS)).expect("read");
    assert_eq!(text.lines().count(), 6, "the floor and five waiting");
    drop(q);
    let mut q = Queue::open(dir.path()).expect("reopen");
    assert_eq!(q.len(), 5);
    assert_eq!(q.push(ev(0)).expect("push"), COMPACT_AFTER as u64 + 11);
}

#[test]
fn files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("tempdir");
    let qdir = dir.path().join("queue");
    let mut q = Queue::open(&qdir).expect("open");
    q.push(ev(1)).expect("push");
    q.push(ev(2)).expect("push");
    q.ack(1).expect("ack");
    let mode = |p: &Path| fs::metadata(p).expect("meta").permissions().mode() & 0o777;
    assert_eq!(mode(&qdir), 0o700);
    assert_eq!(mode(&qdir.join(ACKED)), 0o600);
    assert_eq!(mode(&qdir.join(EVENTS)), 0o600);
}

#[test]
fn kinds_are_the_hub_s_names() {
    let line = serde_json::to_value(Queued {
        seq: 7,
        event: ClassEvent::new(EventKind::SolvedWithHelp, None, None),
    })
    .expect("json");
    assert_eq!(line["kind"], "solved_with_help");
    assert_eq!(EventKind::SolvedWithHelp.as_str(), "solved_with_help");
    assert_eq!(line["seq"], 7);
}
