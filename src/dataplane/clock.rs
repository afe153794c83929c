//! Per-core clock services: the cached `Date` header value and request ids.

use std::cell::Cell;
use std::time::{SystemTime, UNIX_EPOCH};

/// `Date` header value (IMF-fixdate), re-rendered at most once per second.
pub struct DateCache {
    second: Cell<u64>,
    value: Cell<[u8; 29]>,
}

impl DateCache {
    pub fn new() -> DateCache {
        DateCache {
            second: Cell::new(u64::MAX),
            value: Cell::new([b' '; 29]),
        }
    }

    /// The current date, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
    pub fn now(&self) -> [u8; 29] {
        let secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        self.at(secs)
    }

    /// The date at Unix second `secs` (a request's [`Now::unix_secs`]).
    pub fn at(&self, secs: u64) -> [u8; 29] {
        if secs != self.second.get() {
            self.second.set(secs);
            self.value.set(imf_fixdate(secs));
        }
        self.value.get()
    }
}

impl Default for DateCache {
    fn default() -> Self {
        DateCache::new()
    }
}

/// One request's time, read once when the request starts: everything the request path
/// times (throttle buckets, cache TTLs, quotas, `Date`, deadlines) uses it rather than reading
/// the clock again. A clock read is a vDSO call of some 20 ns; a cache hit made eight.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Now {
    /// Monotonic nanoseconds on the shared `MonoClock`.
    pub mono_ns: u64,
    /// Wall-clock seconds since the Unix epoch.
    pub unix_secs: u64,
}

/// Wall-clock time derived from the monotonic clock, re-synchronized with the system clock
/// once a second: a request reads one clock, not two. Within a second the two clocks drift
/// apart by far less than the second that `Date`, quotas and JWT expiry resolve.
pub struct WallClock {
    /// (monotonic ns, Unix ns) of the last system clock read; `None` before the first.
    base: Cell<Option<(u64, u64)>>,
}

const SYNC_NS: u64 = 1_000_000_000;

impl WallClock {
    pub fn new() -> WallClock {
        WallClock {
            base: Cell::new(None),
        }
    }

    /// Unix seconds at monotonic `mono_ns`.
    pub fn unix_secs(&self, mono_ns: u64) -> u64 {
        if let Some((mono, unix)) = self.base.get() {
            // Readings come from one monotonic clock, but from several tasks: one may be
            // older than the base (saturating: it reads as the base's time).
            let since = mono_ns.saturating_sub(mono);
            if since < SYNC_NS {
                return (unix + since) / SYNC_NS;
            }
        }
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        self.base.set(Some((mono_ns, unix)));
        unix / SYNC_NS
    }

    /// Unix milliseconds at monotonic `mono_ns` (a request's [`Now::mono_ns`], whose
    /// `unix_secs` synchronized the clock): derived from the last synchronization, before
    /// or after it, without reading the system clock or moving the base.
    pub fn unix_ms(&self, mono_ns: u64) -> u64 {
        let Some((mono, unix)) = self.base.get() else {
            return self.unix_secs(mono_ns) * 1000;
        };
        let ns = match mono_ns.checked_sub(mono) {
            Some(after) => unix.saturating_add(after),
            None => unix.saturating_sub(mono - mono_ns),
        };
        ns / 1_000_000
    }
}

impl Default for WallClock {
    fn default() -> Self {
        WallClock::new()
    }
}

/// A UTC calendar time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CivilTime {
    pub year: i64,
    pub month: u32,
    pub day: u32,
    pub hour: u32,
    pub minute: u32,
    pub second: u32,
    /// 0 = Thursday (1970-01-01), as days since the epoch modulo 7.
    pub weekday_from_thursday: u32,
}

impl CivilTime {
    pub fn from_unix(secs: u64) -> CivilTime {
        let days = secs / 86_400;
        let rem = secs % 86_400;
        let (year, month, day) = civil_from_days(days as i64);
        CivilTime {
            year,
            month,
            day,
            hour: (rem / 3600) as u32,
            minute: (rem / 60 % 60) as u32,
            second: (rem % 60) as u32,
            weekday_from_thursday: (days % 7) as u32,
        }
    }
}

/// Render seconds since the epoch as an IMF-fixdate (RFC 9110 §5.6.7).
pub fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let t = CivilTime::from_unix(secs);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[t.weekday_from_thursday as usize]);
    two_digits(&mut out[5..7], t.day as u64);
    out[8..11].copy_from_slice(MONTHS[(t.month - 1) as usize]);
    let y = t.year as u64;
    out[12] = b'0' + (y / 1000 % 10) as u8;
    out[13] = b'0' + (y / 100 % 10) as u8;
    two_digits(&mut out[14..16], y % 100);
    two_digits(&mut out[17..19], t.hour as u64);
    two_digits(&mut out[20..22], t.minute as u64);
    two_digits(&mut out[23..25], t.second as u64);
    out
}

fn two_digits(out: &mut [u8], n: u64) {
    out[0] = b'0' + (n / 10 % 10) as u8;
    out[1] = b'0' + (n % 10) as u8;
}

/// Days since 1970-01-01 → (year, month 1–12, day 1–31). Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// (year, month 1–12, day) → days since 1970-01-01. Howard Hinnant's algorithm (the inverse
/// of `civil_from_days`).
pub fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from((month + 9) % 12);
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Each byte's two lowercase hex digits: one lookup per byte of a request id.
static HEX_PAIRS: [[u8; 2]; 256] = hex_pairs();

const fn hex_pairs() -> [[u8; 2]; 256] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut table = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = [HEX[i >> 4], HEX[i & 0xf]];
        i += 1;
    }
    table
}

/// Request ids from a per-core generator seeded from the OS (ring's `SystemRandom`).
/// Not a CSPRNG stream: ids must be unique and unguessable enough for correlation, not secret.
pub struct IdGen {
    state: Cell<u64>,
}

impl IdGen {
    pub fn new() -> IdGen {
        use ring::rand::SecureRandom;
        let mut seed = [0u8; 8];
        // A failure of the OS RNG leaves a time-based seed: ids stay unique per core.
        if ring::rand::SystemRandom::new().fill(&mut seed).is_err() {
            let t = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(1);
            seed = (t as u64).to_le_bytes();
        }
        IdGen {
            state: Cell::new(u64::from_le_bytes(seed)),
        }
    }

    /// wyrand: fast, full-period 64-bit generator.
    fn next_u64(&self) -> u64 {
        let s = self.state.get().wrapping_add(0xa076_1d64_78bd_642f);
        self.state.set(s);
        let t = (s as u128).wrapping_mul((s ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) as u64) ^ (t as u64)
    }

    /// 64 random bits (trace ids).
    pub fn random_u64(&self) -> u64 {
        self.next_u64()
    }

    /// A version-4 UUID, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx` (`$context.requestId`).
    pub fn request_id(&self) -> [u8; 36] {
        /// Where each of the 16 bytes' two hex digits go (the dashes are between).
        const AT: [usize; 16] = [0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34];
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[8..].copy_from_slice(&self.next_u64().to_le_bytes());
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        let mut out = [b'-'; 36];
        for (&b, &o) in bytes.iter().zip(&AT) {
            out[o..o + 2].copy_from_slice(&HEX_PAIRS[usize::from(b)]);
        }
        out
    }

    /// API Gateway's extended request id shape: 11 random bytes in base64 (16 chars, `=`).
    pub fn extended_id(&self) -> [u8; 16] {
        const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let a = self.next_u64();
        let b = self.next_u64();
        let mut bits = [0u8; 12];
        bits[..8].copy_from_slice(&a.to_le_bytes());
        bits[8..11].copy_from_slice(&b.to_le_bytes()[..3]);
        let mut out = [b'='; 16];
        for (chunk, o) in bits.chunks(3).zip(out.chunks_mut(4)) {
            let n = (chunk[0] as u32) << 16 | (chunk[1] as u32) << 8 | chunk[2] as u32;
            for (k, slot) in o.iter_mut().enumerate() {
                *slot = B64[((n >> (18 - 6 * k)) & 63) as usize];
            }
        }
        out[15] = b'=';
        out
    }
}

impl Default for IdGen {
    fn default() -> Self {
        IdGen::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wall_clock_follows_the_system_clock_from_monotonic_readings() {
        let mono = crate::dataplane::throttle::MonoClock::new();
        let wall = WallClock::new();
        let system = || {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_secs()
        };
        for _ in 0..3 {
            let before = system();
            let got = wall.unix_secs(mono.now_ns());
            let after = system();
            // Derived and system time may straddle a second boundary by the clocks' drift.
            assert!(
                (before - 1..=after + 1).contains(&got),
                "{before} <= {got} <= {after}"
            );
            // A reading within the second derives the time without a system clock read;
            // one more than a second on re-synchronizes.
            let (base_mono, base_unix) = wall.base.get().unwrap();
            assert_eq!(
                wall.unix_secs(base_mono + 500_000_000),
                (base_unix + 500_000_000) / SYNC_NS
            );
            #[allow(clippy::disallowed_methods)] // a plain unit test thread, not a core
            std::thread::sleep(std::time::Duration::from_millis(400));
        }
        let (base_mono, _) = wall.base.get().unwrap();
        let later = base_mono + 3 * SYNC_NS;
        wall.unix_secs(later);
        assert_eq!(
            wall.base.get().unwrap().0,
            later,
            "re-synchronized after a second"
        );
    }

    #[test]
    fn milliseconds_agree_with_seconds_and_need_no_new_base() {
        let wall = WallClock::new();
        let at = 7 * SYNC_NS + 123_456_789;
        let secs = wall.unix_secs(at);
        let base = wall.base.get();
        let ms = wall.unix_ms(at);
        assert_eq!(ms / 1000, secs);
        // Later and earlier readings (a request's time after another synchronized) are
        // derived from the same base.
        assert_eq!(wall.unix_ms(at + 2_500_000_000), ms + 2_500);
        assert_eq!(wall.unix_ms(at - 250_000_000), ms - 250);
        assert_eq!(wall.base.get(), base);
    }

    #[test]
    fn days_from_civil_inverts_civil_from_days() {
        for days in [
            -800_000i64,
            -1,
            0,
            1,
            59,
            60,
            365,
            11_016,
            19_782,
            2_932_896,
        ] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(days_from_civil(2024, 2, 29), 19_782);
    }

    #[test]
    fn imf_fixdate_matches_rfc_example() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(
            &imf_fixdate(1_709_164_800),
            b"Thu, 29 Feb 2024 00:00:00 GMT"
        );
    }

    #[test]
    fn request_ids_are_v4_uuids_and_differ() {
        let ids = IdGen::new();
        let a = ids.request_id();
        let b = ids.request_id();
        assert_ne!(a, b);
        let s = std::str::from_utf8(&a).unwrap();
        let parts: Vec<&str> = s.split('-').collect();
        assert_eq!(
            parts.iter().map(|p| p.len()).collect::<Vec<_>>(),
            [8, 4, 4, 4, 12]
        );
        assert!(parts[2].starts_with('4'));
        assert!(
            s.bytes()
                .all(|c| c == b'-' || c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
        );
        for (i, pair) in HEX_PAIRS.iter().enumerate() {
            assert_eq!(pair, format!("{i:02x}").as_bytes());
        }
        assert!(matches!(parts[3].as_bytes()[0], b'8' | b'9' | b'a' | b'b'));
        let e = ids.extended_id();
        assert_eq!(e[15], b'=');
        assert!(
            e[..15]
                .iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
        );
    }
}
