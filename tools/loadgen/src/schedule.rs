//! When each connection sends its next request. Sans-io: time is an argument.
//!
//! **Closed loop:** a request is due as soon as the connection may send one (a response came
//! back, or the pipeline has room); latency counts from the actual send.
//!
//! **Open loop (`--rate R`), wrk2's coordinated-omission correction:** with `C` connections,
//! connection `i` has the fixed timetable `t_k = start + i/R + k·C/R` — the connections are
//! staggered so that together they send `R` requests per second at even spacing. Request `k`
//! is *intended* to go out at `t_k` whatever happened before; if the server (or the pipeline
//! depth) holds the connection up, the request goes late, but its latency still counts from
//! `t_k`. A server that stalls for a second therefore shows a second of latency on every
//! request that should have been sent during the stall, instead of one slow sample followed
//! by fast ones that never waited in the queue a real client population would have formed.
//!
//! **Once (`--hold`):** one request, due at once; then the connection is finished.

use std::time::{Duration, Instant};

/// What the connection should do about its next request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Due {
    /// Send now; latency counts from this instant.
    Now(Instant),
    /// Nothing to send before this instant.
    At(Instant),
    /// The run is over for this connection: send nothing more.
    Finished,
}

#[derive(Debug, Clone)]
pub struct Schedule {
    mode: Mode,
    /// `-d`: nothing is sent at or after this instant, nor intended for it.
    stop_at: Option<Instant>,
}

#[derive(Debug, Clone)]
enum Mode {
    Closed,
    Open {
        first: Instant,
        interval: Duration,
        sent: u32,
    },
    Once {
        sent: bool,
    },
}

impl Schedule {
    pub fn closed(stop_at: Option<Instant>) -> Schedule {
        Schedule {
            mode: Mode::Closed,
            stop_at,
        }
    }

    /// One request, then finished.
    pub fn once() -> Schedule {
        Schedule {
            mode: Mode::Once { sent: false },
            stop_at: None,
        }
    }

    /// Connection `index` of `connections`, `rate` requests/s in total.
    pub fn open(
        start: Instant,
        rate: f64,
        index: u32,
        connections: u32,
        stop_at: Option<Instant>,
    ) -> Schedule {
        let first = start + Duration::from_secs_f64(f64::from(index) / rate);
        let interval = Duration::from_secs_f64(f64::from(connections) / rate);
        Schedule {
            mode: Mode::Open {
                first,
                interval,
                sent: 0,
            },
            stop_at,
        }
    }

    pub fn poll(&self, now: Instant) -> Due {
        let at = match self.mode {
            Mode::Closed | Mode::Once { sent: false } => now,
            Mode::Once { sent: true } => return Due::Finished,
            Mode::Open {
                first,
                interval,
                sent,
            } => first + interval * sent,
        };
        match self.stop_at {
            // A backlog intended before the stop is not sent after it either.
            Some(stop) if at >= stop || now >= stop => Due::Finished,
            _ if at <= now => Due::Now(at),
            _ => Due::At(at),
        }
    }

    /// The request `poll` returned as `Now` was sent.
    pub fn commit(&mut self) {
        match &mut self.mode {
            Mode::Closed => {}
            Mode::Open { sent, .. } => *sent = sent.saturating_add(1),
            Mode::Once { sent } => *sent = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closed_loop_is_always_due_until_the_stop() {
        let t0 = Instant::now();
        let s = Schedule::closed(Some(t0 + Duration::from_secs(1)));
        assert_eq!(s.poll(t0), Due::Now(t0));
        assert_eq!(s.poll(t0 + Duration::from_secs(1)), Due::Finished);
        assert_eq!(Schedule::closed(None).poll(t0), Due::Now(t0));
    }

    #[test]
    fn once_is_one_request() {
        let t0 = Instant::now();
        let mut s = Schedule::once();
        assert_eq!(s.poll(t0), Due::Now(t0));
        s.commit();
        assert_eq!(s.poll(t0), Due::Finished);
    }

    #[test]
    fn open_loop_keeps_its_timetable_when_late() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        // 100/s over 2 connections: each sends every 20 ms; connection 1 starts 10 ms in.
        let mut s = Schedule::open(t0, 100.0, 1, 2, Some(t0 + ms(55)));
        assert_eq!(s.poll(t0), Due::At(t0 + ms(10)));
        // Held up until 45 ms: the requests intended at 10 and 30 ms go now, stamped 10 and 30.
        assert_eq!(s.poll(t0 + ms(45)), Due::Now(t0 + ms(10)));
        s.commit();
        assert_eq!(s.poll(t0 + ms(45)), Due::Now(t0 + ms(30)));
        s.commit();
        assert_eq!(s.poll(t0 + ms(45)), Due::At(t0 + ms(50)));
        s.commit();
        assert_eq!(s.poll(t0 + ms(60)), Due::Finished);
        // Still behind at the stop: the rest of the backlog is not sent.
        let late = Schedule::open(t0, 100.0, 0, 1, Some(t0 + ms(50)));
        assert_eq!(late.poll(t0 + ms(49)), Due::Now(t0));
        assert_eq!(late.poll(t0 + ms(50)), Due::Finished);
    }
}
