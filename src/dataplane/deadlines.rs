//! Coarse deadlines, swept by the worker's ticker.
//!
//! A monoio timer (`monoio::time::Sleep`, 640 bytes) costs a timer-wheel insert and removal
//! each time it is armed, and a parked connection would hold one for its whole idle life. The
//! deadlines a connection waits on most — the park delay before every request, the send
//! timeout of every response, the idle deadline of a parked connection — need no precision,
//! so they register `(deadline, waker)` here instead: a per-core table of reused slots that
//! the worker's ticker sweeps, so such a deadline fires up to one tick late. The table keeps
//! the size of the most deadlines ever registered at once on the core.
//!
//! The table is thread-local: each worker thread has its own, swept by its own ticker
//! ([`sweep`]). A deadline registered on a thread without a ticker never fires.

use std::cell::RefCell;
use std::future::{Future, poll_fn};
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use monoio::time::Instant;

thread_local! {
    static TABLE: RefCell<Deadlines> = const { RefCell::new(Deadlines::new()) };
}

/// Wake every deadline of this thread's table that is at or before `now` (the ticker).
pub fn sweep(now: Instant) {
    TABLE.with(|t| t.borrow_mut().wake_expired(now));
}

/// One deadline registered in this thread's table until dropped.
pub struct Coarse(usize);

impl Coarse {
    pub fn new(deadline: Instant) -> Coarse {
        Coarse(TABLE.with(|t| t.borrow_mut().insert(deadline)))
    }

    /// Ready once a sweep found the deadline passed.
    pub fn poll_expired(&self, cx: &mut Context<'_>) -> Poll<()> {
        TABLE.with(|t| t.borrow_mut().poll_expired(self.0, cx))
    }

    /// Move the deadline (it has not fired, or fires again once the new one passes).
    pub fn reset(&self, deadline: Instant) {
        TABLE.with(|t| t.borrow_mut().reset(self.0, deadline));
    }
}

impl Drop for Coarse {
    fn drop(&mut self) {
        // `try_with`: a thread's table may already be gone while its last tasks drop.
        let _ = TABLE.try_with(|t| t.borrow_mut().remove(self.0));
    }
}

/// `fut`'s output, or `None` once `deadline` passed (give or take one tick).
pub async fn within<F: Future>(deadline: Instant, fut: F) -> Option<F::Output> {
    let mut fut = pin!(fut);
    let mut timer: Option<Coarse> = None;
    poll_fn(|cx| {
        if let Poll::Ready(out) = fut.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        // Registered only once the work has to wait.
        let timer = timer.get_or_insert_with(|| Coarse::new(deadline));
        timer.poll_expired(cx).map(|()| None)
    })
    .await
}

#[derive(Default)]
pub struct Deadlines {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

struct Slot {
    deadline: Instant,
    waker: Option<Waker>,
    expired: bool,
    used: bool,
}

impl Deadlines {
    pub const fn new() -> Deadlines {
        Deadlines {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }

    /// Register a deadline; the key is valid until `remove`.
    pub fn insert(&mut self, deadline: Instant) -> usize {
        let slot = Slot {
            deadline,
            waker: None,
            expired: false,
            used: true,
        };
        match self.free.pop() {
            Some(key) => {
                self.slots[key] = slot;
                key
            }
            None => {
                self.slots.push(slot);
                self.slots.len() - 1
            }
        }
    }

    pub fn remove(&mut self, key: usize) {
        if let Some(slot) = self.slots.get_mut(key).filter(|s| s.used) {
            slot.used = false;
            slot.waker = None;
            self.free.push(key);
        }
    }

    /// Move `key`'s deadline; a fired one is armed again.
    pub fn reset(&mut self, key: usize, deadline: Instant) {
        if let Some(slot) = self.slots.get_mut(key).filter(|s| s.used) {
            slot.deadline = deadline;
            slot.expired = false;
        }
    }

    /// Ready once a sweep found the deadline passed; otherwise remember `cx`'s waker.
    pub fn poll_expired(&mut self, key: usize, cx: &mut Context<'_>) -> Poll<()> {
        let Some(slot) = self.slots.get_mut(key).filter(|s| s.used) else {
            return Poll::Ready(());
        };
        if slot.expired {
            return Poll::Ready(());
        }
        match &mut slot.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }

    /// Wake every registered waiter whose deadline is at or before `now`.
    pub fn wake_expired(&mut self, now: Instant) {
        for slot in &mut self.slots {
            if slot.used && !slot.expired && slot.deadline <= now {
                slot.expired = true;
                if let Some(w) = slot.waker.take() {
                    w.wake();
                }
            }
        }
    }

    /// Deadlines registered and not removed.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;
    use std::time::Duration;

    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[test]
    fn a_sweep_wakes_only_what_expired_and_slots_are_reused() {
        let t0 = Instant::now();
        let mut table = Deadlines::new();
        let soon = table.insert(t0 + Duration::from_millis(10));
        let later = table.insert(t0 + Duration::from_secs(10));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(table.poll_expired(soon, &mut cx).is_pending());
        assert!(table.poll_expired(later, &mut cx).is_pending());

        table.wake_expired(t0);
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        table.wake_expired(t0 + Duration::from_secs(1));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(table.poll_expired(soon, &mut cx).is_ready());
        assert!(table.poll_expired(later, &mut cx).is_pending());
        // A second sweep does not wake it again.
        table.wake_expired(t0 + Duration::from_secs(2));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);

        table.remove(soon);
        assert_eq!(table.len(), 1);
        let again = table.insert(t0 + Duration::from_secs(5));
        assert_eq!(again, soon, "the freed slot is reused");
        assert!(table.poll_expired(again, &mut cx).is_pending());
        table.remove(later);
        table.remove(later);
        assert_eq!(table.len(), 1);
    }

    #[test]
    fn within_ends_a_waiting_future_after_a_sweep_and_frees_its_slot() {
        let mut rt = monoio::RuntimeBuilder::<monoio::FusionDriver>::new()
            .enable_timer()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let t0 = Instant::now();
            // Ready at once: its output, and no slot was taken.
            assert_eq!(within(t0, async { 7 }).await, Some(7));
            assert_eq!(TABLE.with(|t| t.borrow().len()), 0);
            // Waits forever: ended by the first sweep past its deadline, not before.
            let deadline = t0 + Duration::from_millis(5);
            let sweeper = monoio::spawn(async move {
                sweep(t0);
                monoio::time::sleep(Duration::from_millis(10)).await;
                sweep(Instant::now());
            });
            assert_eq!(within(deadline, std::future::pending::<()>()).await, None);
            assert!(Instant::now() >= deadline);
            sweeper.await;
            assert_eq!(TABLE.with(|t| t.borrow().len()), 0, "the slot is freed");
        });
    }
}
