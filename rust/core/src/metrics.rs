//! Per-function counters and histograms, and the emulator-wide count of dropped log lines,
//! rendered as Prometheus text (docs/reference.md §12).

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::invocation::OutcomeKind;

/// Histogram bucket bounds, seconds.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 60.0,
];

/// A cumulative histogram of durations.
#[derive(Debug, Default)]
pub struct Histogram {
    buckets: [AtomicU64; BOUNDS.len()],
    count: AtomicU64,
    sum_ns: AtomicU64,
}

impl Histogram {
    /// Record one observation, milliseconds.
    pub fn observe_ms(&self, ms: f64) {
        let secs = ms / 1000.0;
        if let Some(i) = BOUNDS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_ns
            .fetch_add((ms * 1e6).max(0.0) as u64, Ordering::Relaxed);
    }

    fn render(&self, out: &mut String, name: &str, function: &str) {
        let mut cumulative = 0;
        for (i, bound) in BOUNDS.iter().enumerate() {
            cumulative += self.buckets[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "{name}_bucket{{function=\"{function}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let count = self.count.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "{name}_bucket{{function=\"{function}\",le=\"+Inf\"}} {count}"
        );
        let sum = self.sum_ns.load(Ordering::Relaxed) as f64 / 1e9;
        let _ = writeln!(out, "{name}_sum{{function=\"{function}\"}} {sum}");
        let _ = writeln!(out, "{name}_count{{function=\"{function}\"}} {count}");
    }
}

/// Invocation outcome labels, in the order of [`FunctionMetrics::invocations`].
pub const OUTCOMES: [&str; 5] = ["success", "error", "timeout", "crash", "throttled"];
/// Async event outcome labels.
pub const ASYNC_OUTCOMES: [&str; 4] = [
    "success",
    "retries_exhausted",
    "event_age_exceeded",
    "dropped",
];

/// One function's counters.
#[derive(Debug, Default)]
pub struct FunctionMetrics {
    invocations: [AtomicU64; 5],
    cold_starts: AtomicU64,
    peak_concurrency: AtomicU64,
    /// Async events by outcome (docs/reference.md §12).
    pub async_events: [AtomicU64; 4],
    /// Async queue depth.
    pub async_queue_depth: AtomicU64,
    /// Records that no attempt delivered to their destination.
    pub destination_failures: AtomicU64,
    duration: Histogram,
    init_duration: Histogram,
}

/// Environments of a function by state, counted at scrape time.
#[derive(Debug, Default, Clone, Copy)]
pub struct EnvironmentCounts {
    /// Being created or initialised ahead of invokes.
    pub starting: u64,
    /// Waiting for an invocation.
    pub idle: u64,
    /// Running at least one invocation.
    pub busy: u64,
    /// Frozen between invocations.
    pub frozen: u64,
    /// Out of the pool (reaped, replaced or reclaimed) and still stopping.
    pub stopping: u64,
    /// Invocations in flight.
    pub concurrent: u64,
}

impl std::ops::Add for EnvironmentCounts {
    type Output = Self;

    /// The environments of two schedulers (versions) of one function together.
    fn add(self, other: Self) -> Self {
        Self {
            starting: self.starting + other.starting,
            idle: self.idle + other.idle,
            busy: self.busy + other.busy,
            frozen: self.frozen + other.frozen,
            stopping: self.stopping + other.stopping,
            concurrent: self.concurrent + other.concurrent,
        }
    }
}

impl FunctionMetrics {
    /// Count a finished invocation.
    pub fn invocation(
        &self,
        kind: OutcomeKind,
        duration_ms: f64,
        init_ms: Option<f64>,
        cold: bool,
    ) {
        let label = kind.label();
        let i = OUTCOMES.iter().position(|o| *o == label).unwrap_or(1);
        self.invocations[i].fetch_add(1, Ordering::Relaxed);
        self.duration.observe_ms(duration_ms);
        if cold {
            self.cold_starts.fetch_add(1, Ordering::Relaxed);
        }
        if let Some(ms) = init_ms {
            self.init_duration.observe_ms(ms);
        }
    }

    /// Count a cold start that happened outside an invocation (provisioned concurrency).
    pub fn init(&self, init_ms: f64) {
        self.cold_starts.fetch_add(1, Ordering::Relaxed);
        self.init_duration.observe_ms(init_ms);
    }

    /// Count a throttled invoke.
    pub fn throttled(&self) {
        self.invocations[4].fetch_add(1, Ordering::Relaxed);
    }

    /// Note the concurrency now, for the peak.
    pub fn concurrency(&self, now: u64) {
        self.peak_concurrency.fetch_max(now, Ordering::Relaxed);
    }

    /// Cold starts so far.
    pub fn cold_starts(&self) -> u64 {
        self.cold_starts.load(Ordering::Relaxed)
    }

    /// Append this function's samples to a Prometheus text exposition.
    pub fn render(&self, out: &mut String, function: &str, envs: EnvironmentCounts) {
        let f = function;
        for (i, outcome) in OUTCOMES.iter().enumerate() {
            let n = self.invocations[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "lambda_rie_invocations_total{{function=\"{f}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "lambda_rie_cold_starts_total{{function=\"{f}\"}} {}",
            self.cold_starts()
        );
        let _ = writeln!(
            out,
            "lambda_rie_concurrent_executions{{function=\"{f}\"}} {}",
            envs.concurrent
        );
        let peak = self.peak_concurrency.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "lambda_rie_concurrent_executions_peak{{function=\"{f}\"}} {peak}"
        );
        for (state, n) in [
            ("starting", envs.starting),
            ("idle", envs.idle),
            ("busy", envs.busy),
            ("frozen", envs.frozen),
            ("stopping", envs.stopping),
        ] {
            let _ = writeln!(
                out,
                "lambda_rie_environments{{function=\"{f}\",state=\"{state}\"}} {n}"
            );
        }
        self.duration.render(out, "lambda_rie_duration_seconds", f);
        self.init_duration
            .render(out, "lambda_rie_init_duration_seconds", f);
        let depth = self.async_queue_depth.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "lambda_rie_async_queue_depth{{function=\"{f}\"}} {depth}"
        );
        for (i, outcome) in ASYNC_OUTCOMES.iter().enumerate() {
            let n = self.async_events[i].load(Ordering::Relaxed);
            let _ = writeln!(
                out,
                "lambda_rie_async_events_total{{function=\"{f}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        let failed = self.destination_failures.load(Ordering::Relaxed);
        let _ = writeln!(
            out,
            "lambda_rie_destination_failures_total{{function=\"{f}\"}} {failed}"
        );
    }
}

/// Every metric family: name, type, help; in exposition order.
const FAMILIES: [(&str, &str, &str); 10] = [
    (
        "lambda_rie_invocations_total",
        "counter",
        "Invocations by outcome.",
    ),
    (
        "lambda_rie_cold_starts_total",
        "counter",
        "Runtime processes started (init phases).",
    ),
    (
        "lambda_rie_concurrent_executions_peak",
        "gauge",
        "Most invocations in flight at once.",
    ),
    (
        "lambda_rie_concurrent_executions",
        "gauge",
        "Invocations in flight.",
    ),
    (
        "lambda_rie_environments",
        "gauge",
        "Execution environments by state.",
    ),
    (
        "lambda_rie_duration_seconds",
        "histogram",
        "Invocation duration.",
    ),
    (
        "lambda_rie_init_duration_seconds",
        "histogram",
        "Init duration.",
    ),
    (
        "lambda_rie_async_queue_depth",
        "gauge",
        "Queued Event invocations.",
    ),
    (
        "lambda_rie_async_events_total",
        "counter",
        "Event invocations by final outcome.",
    ),
    (
        "lambda_rie_destination_failures_total",
        "counter",
        "Destination records no attempt delivered.",
    ),
];

/// The whole exposition for several functions, each family's samples grouped under its
/// `# HELP` and `# TYPE` lines as the text format requires.
pub fn render_all(functions: &[(&str, &FunctionMetrics, EnvironmentCounts)]) -> String {
    let mut samples = String::new();
    for (name, metrics, counts) in functions {
        metrics.render(&mut samples, name, *counts);
    }
    let family_of = |line: &str| {
        FAMILIES
            .iter()
            .position(|(name, _, _)| {
                line.strip_prefix(name)
                    .is_some_and(|rest| rest.starts_with(['{', '_']) && !rest.starts_with("_peak"))
            })
            .unwrap_or(FAMILIES.len())
    };
    let mut lines: Vec<(usize, &str)> = samples.lines().map(|l| (family_of(l), l)).collect();
    lines.sort_by_key(|(family, _)| *family);
    let mut out = String::new();
    let mut current = usize::MAX;
    for (family, line) in lines {
        if family != current && family < FAMILIES.len() {
            let (name, kind, help) = FAMILIES[family];
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
            current = family;
        }
        out.push_str(line);
        out.push('\n');
    }
    render_emulator_wide(&mut out);
    out
}

/// The families that belong to the emulator rather than to one function.
fn render_emulator_wide(out: &mut String) {
    let name = "lambda_rie_log_lines_dropped_total";
    let _ = writeln!(
        out,
        "# HELP {name} Function log lines dropped because nothing read the emulator's stdout.\n# TYPE {name} counter\n{name} {}",
        crate::logs::dropped_lines()
    );
}
