//! `HitCounts`: a stage cache's `CacheHitCount` / `CacheMissCount` per route, kept per core.
//!
//! Each core writes only its own cells, with a relaxed load and a relaxed store (plain
//! moves on x86; no `lock`-prefixed read-modify-write, nothing bounced between cores), and
//! the control side reads every core's cells and sums them. A cell has one writer, so no
//! count is lost; a reader may see one core's cell a moment before another's (each number
//! it returns is exact at some instant, the set of them is not one instant).
//!
//! A core's cells start on a line of their own ([`Line`], 128 bytes: two cache lines, as
//! the adjacent-line prefetcher pairs them), so two cores never write to one line.

use std::sync::atomic::{AtomicU64, Ordering};

/// Routes whose (hits, misses) share one [`Line`].
const PER_LINE: usize = 8;

/// (hits, misses) of [`PER_LINE`] routes of one core.
#[derive(Default)]
#[repr(align(128))]
struct Line([[AtomicU64; 2]; PER_LINE]);

/// Hit and miss counts per (core, route).
pub struct HitCounts {
    cores: usize,
    routes: usize,
    lines_per_core: usize,
    lines: Box<[Line]>,
}

impl HitCounts {
    /// Zero counts for `routes` routes on `cores` cores.
    pub fn new(cores: usize, routes: usize) -> HitCounts {
        let lines_per_core = routes.div_ceil(PER_LINE);
        HitCounts {
            cores,
            routes,
            lines_per_core,
            lines: (0..cores * lines_per_core)
                .map(|_| Line::default())
                .collect(),
        }
    }

    pub fn cores(&self) -> usize {
        self.cores
    }

    pub fn routes(&self) -> usize {
        self.routes
    }

    /// Counts a hit or a miss of `route` on `core`. Only `core`'s own thread may call this
    /// with that `core` (the cell is not read-modify-written atomically). Out of range:
    /// nothing is counted.
    pub fn record(&self, core: usize, route: usize, hit: bool) {
        debug_assert!(core < self.cores, "core {core} of {}", self.cores);
        // A route past `routes` could still index its core's last line; a core past `cores`
        // indexes past every line, which `get` answers with `None`.
        if route >= self.routes {
            return;
        }
        let Some(line) = self
            .lines
            .get(core * self.lines_per_core + route / PER_LINE)
        else {
            return;
        };
        let cell = &line.0[route % PER_LINE][usize::from(!hit)];
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(1),
            Ordering::Relaxed,
        );
    }

    /// `(hits, misses)` of `route`, summed over the cores.
    pub fn route(&self, route: usize) -> (u64, u64) {
        if route >= self.routes {
            return (0, 0);
        }
        let (line, at) = (route / PER_LINE, route % PER_LINE);
        (0..self.cores)
            .filter_map(|core| self.lines.get(core * self.lines_per_core + line))
            .fold((0, 0), |(h, m), l| {
                let [hits, misses] = &l.0[at];
                (
                    h + hits.load(Ordering::Relaxed),
                    m + misses.load(Ordering::Relaxed),
                )
            })
    }

    /// `(hits, misses)` over every route and core.
    pub fn total(&self) -> (u64, u64) {
        (0..self.routes)
            .map(|r| self.route(r))
            .fold((0, 0), |(h, m), (rh, rm)| (h + rh, m + rm))
    }
}

impl std::fmt::Debug for HitCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HitCounts")
            .field("cores", &self.cores)
            .field("routes", &self.routes)
            .field("total", &self.total())
            .finish()
    }
}
