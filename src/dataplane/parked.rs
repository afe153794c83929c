//! Coarse deadlines for parked connections.
//!
//! A parked connection waits for readability or its idle deadline. A monoio timer
//! (`monoio::time::Sleep`, 640 bytes) would be the largest thing a parked connection holds, so
//! parked connections instead register `(deadline, waker)` here, in a per-core table the
//! worker's ticker sweeps: an idle timeout fires up to one tick late. Slots are reused; the
//! table keeps the size of the most connections ever parked at once on the core.

use std::task::{Context, Poll, Waker};

use monoio::time::Instant;

#[derive(Default)]
pub struct Parked {
    slots: Vec<Slot>,
    free: Vec<usize>,
}

struct Slot {
    deadline: Instant,
    waker: Option<Waker>,
    expired: bool,
    used: bool,
}

impl Parked {
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
        let mut parked = Parked::default();
        let soon = parked.insert(t0 + Duration::from_millis(10));
        let later = parked.insert(t0 + Duration::from_secs(10));
        let count = Arc::new(Count(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        let mut cx = Context::from_waker(&waker);
        assert!(parked.poll_expired(soon, &mut cx).is_pending());
        assert!(parked.poll_expired(later, &mut cx).is_pending());

        parked.wake_expired(t0);
        assert_eq!(count.0.load(Ordering::Relaxed), 0);
        parked.wake_expired(t0 + Duration::from_secs(1));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);
        assert!(parked.poll_expired(soon, &mut cx).is_ready());
        assert!(parked.poll_expired(later, &mut cx).is_pending());
        // A second sweep does not wake it again.
        parked.wake_expired(t0 + Duration::from_secs(2));
        assert_eq!(count.0.load(Ordering::Relaxed), 1);

        parked.remove(soon);
        assert_eq!(parked.len(), 1);
        let again = parked.insert(t0 + Duration::from_secs(5));
        assert_eq!(again, soon, "the freed slot is reused");
        assert!(parked.poll_expired(again, &mut cx).is_pending());
        parked.remove(later);
        parked.remove(later);
        assert_eq!(parked.len(), 1);
    }
}
