//! Model check of the multi-shard transaction protocol (server/src/tx.rs)
//! with loom: every interleaving of two shard threads and two coordinators.
//!
//! The model mirrors the real protocol step for step: arming under one
//! global mutex in ascending shard order, a ready barrier, operations over a
//! per-transaction channel, and release by dropping the channel. It checks
//! that a multi-shard write is never half-visible to a multi-shard read and
//! that no interleaving deadlocks (loom fails on a deadlock).

#![allow(clippy::unwrap_used)]

use loom::sync::mpsc::{channel, Receiver, Sender};
use loom::sync::{Arc, Mutex};
use loom::thread;

/// `None` releases the shard. (The real code releases by dropping the
/// channel; loom's channels do not model disconnection, so the model sends
/// an explicit release, which is what the drop amounts to.)
type Op = Option<Box<dyn FnOnce(&mut i64) + Send>>;

enum Msg {
    Arm {
        ops: Receiver<Op>,
        ready: Sender<()>,
    },
    Stop,
}

fn shard_loop(inbox: Receiver<Msg>) {
    let mut value = 0i64;
    while let Ok(msg) = inbox.recv() {
        match msg {
            Msg::Arm { ops, ready } => {
                let _ = ready.send(());
                // Frozen: serve only this transaction until its handle drops.
                while let Ok(Some(op)) = ops.recv() {
                    op(&mut value);
                }
            }
            Msg::Stop => break,
        }
    }
}

/// Arms every shard under the global order lock, then waits for all.
fn begin(order: &Mutex<()>, inboxes: &[Sender<Msg>]) -> Vec<Sender<Op>> {
    let mut ops = Vec::new();
    let mut readies = Vec::new();
    {
        let _g = order.lock().unwrap();
        for inbox in inboxes {
            let (op_tx, op_rx) = channel();
            let (ready_tx, ready_rx) = channel();
            inbox
                .send(Msg::Arm {
                    ops: op_rx,
                    ready: ready_tx,
                })
                .unwrap();
            ops.push(op_tx);
            readies.push(ready_rx);
        }
    }
    for r in readies {
        r.recv().unwrap();
    }
    ops
}

fn release(tx: Vec<Sender<Op>>) {
    for t in tx {
        t.send(None).unwrap();
    }
}

fn run(op_tx: &Sender<Op>, f: impl FnOnce(&mut i64) -> i64 + Send + 'static) -> i64 {
    let (tx, rx) = channel();
    op_tx
        .send(Some(Box::new(move |v: &mut i64| {
            let _ = tx.send(f(v));
        })))
        .unwrap();
    rx.recv().unwrap()
}

#[test]
fn multi_shard_writes_are_never_half_visible() {
    loom::model(|| {
        let order = Arc::new(Mutex::new(()));
        let mut inboxes = Vec::new();
        let mut shards = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = channel();
            inboxes.push(tx);
            shards.push(thread::spawn(move || shard_loop(rx)));
        }
        let writer = {
            let order = order.clone();
            let inboxes = inboxes.clone();
            thread::spawn(move || {
                let tx = begin(&order, &inboxes);
                run(&tx[0], |v| {
                    *v = 1;
                    0
                });
                run(&tx[1], |v| {
                    *v = 1;
                    0
                });
                release(tx);
            })
        };
        let reader = {
            let order = order.clone();
            let inboxes = inboxes.clone();
            thread::spawn(move || {
                let tx = begin(&order, &inboxes);
                let a = run(&tx[0], |v| *v);
                let b = run(&tx[1], |v| *v);
                release(tx);
                assert_eq!(a, b, "saw half of a multi-shard write");
            })
        };
        writer.join().unwrap();
        reader.join().unwrap();
        for inbox in &inboxes {
            inbox.send(Msg::Stop).unwrap();
        }
        for s in shards {
            s.join().unwrap();
        }
    });
}

#[test]
fn opposite_shard_orders_do_not_deadlock() {
    // Two transactions over the same shards, each touching them in the
    // opposite order once armed: the global arming order prevents a cycle.
    loom::model(|| {
        let order = Arc::new(Mutex::new(()));
        let mut inboxes = Vec::new();
        let mut shards = Vec::new();
        for _ in 0..2 {
            let (tx, rx) = channel();
            inboxes.push(tx);
            shards.push(thread::spawn(move || shard_loop(rx)));
        }
        let mut coords = Vec::new();
        for first in 0..2usize {
            let order = order.clone();
            let inboxes = inboxes.clone();
            coords.push(thread::spawn(move || {
                let tx = begin(&order, &inboxes);
                run(&tx[first], |v| {
                    *v += 1;
                    0
                });
                run(&tx[1 - first], |v| {
                    *v += 1;
                    0
                });
                release(tx);
            }));
        }
        for c in coords {
            c.join().unwrap();
        }
        for inbox in &inboxes {
            inbox.send(Msg::Stop).unwrap();
        }
        for s in shards {
            s.join().unwrap();
        }
    });
}
