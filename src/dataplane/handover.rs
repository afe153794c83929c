//! Hand-overs from the cores to one control thread (access/execution log batches to the log
//! writer, span batches to the OTLP exporter, metrics deltas to the aggregator): a bounded
//! channel whose taker never blocks in the channel itself.
//!
//! A std channel's receiver that blocks in `recv` registers in the channel's waker list, and
//! every `try_send` then takes that list's mutex to wake it: a core could wait on a lock (and
//! the taker, racing a send, sleeps on it too — half of the log writer's wake-ups were that).
//! Here the taker only ever `try_recv`s and parks its thread; a giver sends with `try_send`
//! (the waker list stays empty, so no lock) and then unparks the taker: an atomic swap, and a
//! futex wake only when the taker is actually parked.

use std::sync::mpsc::{Receiver, SyncSender, TryIter, TryRecvError, TrySendError, sync_channel};
use std::sync::{Arc, OnceLock};
use std::thread::Thread;
use std::time::{Duration, Instant};

/// A bounded hand-over of `cap` items (`cap` ≥ 1).
pub fn channel<T>(cap: usize) -> (Giver<T>, Taker<T>) {
    let (tx, rx) = sync_channel(cap.max(1));
    let taker = Arc::new(OnceLock::new());
    (
        Giver {
            tx,
            taker: taker.clone(),
        },
        Taker { rx, taker },
    )
}

/// The cores' end (cloned per core).
pub struct Giver<T> {
    tx: SyncSender<T>,
    taker: Arc<OnceLock<Thread>>,
}

impl<T> Clone for Giver<T> {
    fn clone(&self) -> Self {
        Giver {
            tx: self.tx.clone(),
            taker: self.taker.clone(),
        }
    }
}

impl<T> Giver<T> {
    /// Hand `item` over without waiting; it comes back when the channel is full or the taker
    /// is gone.
    pub fn try_send(&self, item: T) -> Result<(), TrySendError<T>> {
        self.try_send_quietly(item)?;
        self.wake();
        Ok(())
    }

    /// `try_send` without waking the taker: the giver wakes it later (`wake`), once for
    /// several items, so a busy taker is woken once per several items instead of per item.
    pub fn try_send_quietly(&self, item: T) -> Result<(), TrySendError<T>> {
        self.tx.try_send(item)
    }

    /// Wake the taker (a futex wake only when it is parked).
    pub fn wake(&self) {
        if let Some(t) = self.taker.get() {
            t.unpark();
        }
    }
}

/// The control thread's end (it parks: never on a core).
pub struct Taker<T> {
    rx: Receiver<T>,
    taker: Arc<OnceLock<Thread>>,
}

/// Why [`Taker::recv_timeout`] returned nothing.
#[derive(Debug, PartialEq, Eq)]
pub enum Nothing {
    Timeout,
    /// Every giver is gone and the channel is empty.
    Disconnected,
}

/// How often a taker waiting without a limit looks whether the givers are gone (they do not
/// unpark it when they drop).
const DISCONNECT_CHECK: Duration = Duration::from_secs(1);

impl<T> Taker<T> {
    /// The next item, waiting at most `timeout`. Called from one thread only: the first call
    /// makes it the thread the givers unpark.
    pub fn recv_timeout(&self, timeout: Duration) -> Result<T, Nothing> {
        let deadline = Instant::now() + timeout;
        self.bind();
        loop {
            match self.rx.try_recv() {
                Ok(item) => return Ok(item),
                Err(TryRecvError::Disconnected) => return Err(Nothing::Disconnected),
                Err(TryRecvError::Empty) => {}
            }
            let now = Instant::now();
            if now >= deadline {
                return Err(Nothing::Timeout);
            }
            // A send between the `try_recv` and here left the unpark token: no wake is lost.
            std::thread::park_timeout(deadline - now);
        }
    }

    /// The next item, however long it takes; `None` once every giver is gone.
    pub fn recv(&self) -> Option<T> {
        loop {
            match self.recv_timeout(DISCONNECT_CHECK) {
                Ok(item) => return Some(item),
                Err(Nothing::Timeout) => continue,
                Err(Nothing::Disconnected) => return None,
            }
        }
    }

    pub fn try_recv(&self) -> Option<T> {
        self.rx.try_recv().ok()
    }

    /// Every item already handed over.
    pub fn try_iter(&self) -> TryIter<'_, T> {
        self.rx.try_iter()
    }

    fn bind(&self) {
        if self.taker.get().is_none() {
            let _ = self.taker.set(std::thread::current());
        }
    }
}

#[cfg(test)]
#[allow(clippy::disallowed_methods)]
mod tests {
    use super::*;

    #[test]
    fn a_send_wakes_a_parked_taker_at_once() {
        let (give, take) = channel::<u32>(4);
        let waiting = std::thread::spawn(move || {
            let started = Instant::now();
            let got = take.recv_timeout(Duration::from_secs(30));
            (got, started.elapsed())
        });
        // Let the taker park (a send before it does works too: the token stays).
        std::thread::sleep(Duration::from_millis(50));
        give.try_send(7).unwrap();
        let (got, waited) = waiting.join().unwrap();
        assert_eq!(got, Ok(7));
        assert!(waited < Duration::from_secs(10), "woken after {waited:?}");
    }

    #[test]
    fn a_full_channel_gives_the_item_back_and_the_taker_sees_the_givers_go() {
        let (give, take) = channel::<u32>(1);
        give.try_send(1).unwrap();
        assert!(matches!(give.try_send(2), Err(TrySendError::Full(2))));
        let other = give.clone();
        drop(give);
        assert_eq!(take.recv_timeout(Duration::from_millis(10)), Ok(1));
        assert_eq!(
            take.recv_timeout(Duration::from_millis(10)),
            Err(Nothing::Timeout)
        );
        drop(other);
        assert_eq!(
            take.recv_timeout(Duration::from_secs(5)),
            Err(Nothing::Disconnected)
        );
        assert_eq!(take.recv(), None);
    }

    #[test]
    fn items_keep_their_order_across_givers_and_wake_ups() {
        let (give, take) = channel::<u32>(1024);
        let senders: Vec<_> = (0..4)
            .map(|g| {
                let give = give.clone();
                std::thread::spawn(move || {
                    for i in 0..200 {
                        while give.try_send(g * 1000 + i).is_err() {
                            std::thread::yield_now();
                        }
                    }
                })
            })
            .collect();
        drop(give);
        let mut last = [None::<u32>; 4];
        let mut n = 0;
        while let Some(v) = take.recv() {
            let g = (v / 1000) as usize;
            assert!(last[g].is_none_or(|l| l < v), "{v} after {:?}", last[g]);
            last[g] = Some(v);
            n += 1;
        }
        for s in senders {
            s.join().unwrap();
        }
        assert_eq!(n, 800);
    }
}
