//! Percentiles of timed samples, shared by the groups that time one operation many times.

/// Percentiles of one row's samples, in nanoseconds.
pub struct Latency {
    pub samples: usize,
    pub p50_ns: u64,
    pub p99_ns: u64,
    pub max_ns: u64,
}

impl Latency {
    pub fn of(mut samples_ns: Vec<u64>) -> Latency {
        assert!(!samples_ns.is_empty(), "a latency needs samples");
        samples_ns.sort_unstable();
        // Nearest rank: the smallest sample with at least p of them at or below it.
        let rank = |percent: usize| {
            let at_or_below = (samples_ns.len() * percent).div_ceil(100);
            samples_ns[at_or_below.max(1) - 1]
        };
        Latency {
            samples: samples_ns.len(),
            p50_ns: rank(50),
            p99_ns: rank(99),
            max_ns: *samples_ns.last().expect("not empty"),
        }
    }
}
