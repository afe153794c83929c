//! `--hold D`: many idle keep-alive connections, for measuring what a proxy spends on each.
//!
//! Lifecycle of one connection: *Connecting* (through the thread's connect slots; failure →
//! connect error, no retry) → *Asking*: the normal workload's first request for this
//! connection, and its response, still holding the slot (so the server's accept queue only
//! ever holds what the slots allow) → *Held*, open and silent, its buffers given back
//! (`Transport::park`) — or *Failed* on any error, or if the server closed it → *Released*:
//! dropped, which closes the socket.
//!
//! Between the threads: each connection reports *settled* (held or failed) on its thread's
//! progress line. The main thread (`watch`) waits until all of them have, prints the one
//! `holding N idle connections for D` line on stderr, sleeps `D` and sets the plan's release
//! flag; every thread polls the flag (`RELEASE_POLL`) and releases its connections together.

use std::cell::{Cell, RefCell};
use std::future::poll_fn;
use std::pin::pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::task::{Poll, Waker};
use std::time::Duration;

use crate::conn::{self, Conn, Outcome};
use crate::schedule::Schedule;
use crate::transport::{Connector, Plain, Transport};
use crate::worker::{Hold, Local, Worker};

/// How often a thread looks whether the hold is over: closing is this prompt.
const RELEASE_POLL: Duration = Duration::from_millis(5);
/// How often the main thread looks whether every connection has settled.
const SETTLE_POLL: Duration = Duration::from_millis(10);

/// A one-way signal from a thread's driver to its held connections.
#[derive(Default)]
pub struct Release {
    fired: Cell<bool>,
    waiting: RefCell<Vec<Waker>>,
}

impl Release {
    async fn wait(&self) {
        poll_fn(|cx| {
            if self.fired.get() {
                Poll::Ready(())
            } else {
                self.waiting.borrow_mut().push(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }

    fn fire(&self) {
        self.fired.set(true);
        for waker in self.waiting.take() {
            waker.wake();
        }
    }
}

/// A worker's side: opens and asks on every connection of `indices`, waits for the main
/// thread's release, then closes them all.
pub async fn drive(local: Rc<Local>, hold: &Hold, indices: Vec<u32>) {
    let tasks: Vec<_> = indices
        .into_iter()
        .map(|i| monoio::spawn(one(local.clone(), i)))
        .collect();
    while !hold.release.load(Ordering::Acquire) {
        monoio::time::sleep(RELEASE_POLL).await;
    }
    local.release.fire();
    for task in tasks {
        task.await;
    }
}

async fn one(local: Rc<Local>, index: u32) {
    match &local.plan.tls {
        None => one_with(&Plain, &local, index).await,
        Some(tls) => one_with(tls, &local, index).await,
    }
}

async fn one_with<C: Connector>(connector: &C, local: &Local, index: u32) {
    let slot = local.connect_slots.take().await;
    let held = match conn::open(connector, local, local.plan.timeout).await {
        Some(mut stream) => {
            let mut conn = Conn::new(&local.plan, index);
            let sleep = pin!(monoio::time::sleep(Duration::ZERO));
            match conn
                .exchange(&mut stream, &mut Schedule::once(), local, sleep)
                .await
            {
                Outcome::Finished => {
                    stream.park();
                    Some(stream)
                }
                Outcome::Reconnect => None,
            }
        }
        None => None,
    };
    drop(slot);
    local.publish_settled(held.is_some());
    if let Some(stream) = held {
        local.release.wait().await;
        drop(stream);
    }
}

/// The main thread's side: waits until every connection has settled (or every worker has
/// ended), announces the hold on stderr, holds, and releases.
pub fn watch(workers: &[Worker], hold: &Hold, connections: u32) {
    let sum = |f: fn(&Worker) -> u64| workers.iter().map(f).sum::<u64>();
    while sum(|w| w.progress.settled.load(Ordering::Acquire)) < u64::from(connections)
        && !workers.iter().all(|w| w.handle.is_finished())
    {
        std::thread::sleep(SETTLE_POLL);
    }
    let held = sum(|w| w.progress.held.load(Ordering::Relaxed));
    eprintln!(
        "holding {held} idle connections for {}",
        show_duration(hold.duration)
    );
    std::thread::sleep(hold.duration);
    hold.release.store(true, Ordering::Release);
    while !workers.iter().all(|w| w.handle.is_finished()) {
        std::thread::sleep(SETTLE_POLL);
    }
}

/// `30s`, `1.5s`, `250ms`: as short as it is exact (to the ms).
pub fn show_duration(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        _ if ms.is_multiple_of(1000) => format!("{}s", ms / 1000),
        _ if ms < 1000 => format!("{ms}ms"),
        _ => format!("{}s", d.as_secs_f64()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_shown_as_written() {
        assert_eq!(show_duration(Duration::from_secs(30)), "30s");
        assert_eq!(show_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(show_duration(Duration::from_millis(250)), "250ms");
    }
}
