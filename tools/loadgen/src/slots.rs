//! Connects in flight on one thread, bounded (`defaults::CONNECTS_IN_FLIGHT` shared out over
//! the threads), so that opening thousands of connections at once does not overflow the
//! server's listen backlog. One thread, so `Cell`/`RefCell`; a connection waits for a slot
//! only while it connects, never per request.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::future::poll_fn;
use std::task::{Poll, Waker};

pub struct Slots {
    free: Cell<u32>,
    waiting: RefCell<VecDeque<Waker>>,
}

/// A slot taken; dropping it frees it and wakes the longest waiting task.
pub struct Slot<'a> {
    slots: &'a Slots,
}

impl Slots {
    pub fn new(n: u32) -> Slots {
        debug_assert!(n > 0);
        Slots {
            free: Cell::new(n),
            waiting: RefCell::new(VecDeque::new()),
        }
    }

    pub async fn take(&self) -> Slot<'_> {
        poll_fn(|cx| {
            let free = self.free.get();
            if free > 0 {
                self.free.set(free - 1);
                Poll::Ready(Slot { slots: self })
            } else {
                self.waiting.borrow_mut().push_back(cx.waker().clone());
                Poll::Pending
            }
        })
        .await
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let s = self.slots;
        s.free.set(s.free.get() + 1);
        // The woken task takes the slot when it runs, unless a newcomer took it first; then it
        // queues again.
        let next = s.waiting.borrow_mut().pop_front();
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

#[cfg(test)]
mod tests {
    use std::rc::Rc;
    use std::time::Duration;

    use super::*;

    #[test]
    fn never_more_than_n_at_once_and_every_waiter_gets_one() {
        let mut rt = monoio::RuntimeBuilder::<monoio::LegacyDriver>::new()
            .enable_timer()
            .build()
            .unwrap();
        let (max, done) = rt.block_on(async {
            let slots = Rc::new(Slots::new(3));
            let busy = Rc::new(Cell::new(0u32));
            let max = Rc::new(Cell::new(0u32));
            let done = Rc::new(Cell::new(0u32));
            let tasks: Vec<_> = (0..20)
                .map(|_| {
                    let (slots, busy, max, done) =
                        (slots.clone(), busy.clone(), max.clone(), done.clone());
                    monoio::spawn(async move {
                        let _slot = slots.take().await;
                        busy.set(busy.get() + 1);
                        max.set(max.get().max(busy.get()));
                        monoio::time::sleep(Duration::from_millis(2)).await;
                        busy.set(busy.get() - 1);
                        done.set(done.get() + 1);
                    })
                })
                .collect();
            for t in tasks {
                t.await;
            }
            (max.get(), done.get())
        });
        assert_eq!((max, done), (3, 20));
    }
}
