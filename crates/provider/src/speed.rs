//! The provider's speed figure: the fuel per second it registers on chain and judges new jobs'
//! deadlines by.
//!
//! One timing of the standard job is noise: a build beside the provider, a game, a thermal
//! throttle can halve it for a second. So the figure is the median of several timings, kept in
//! the data directory (`DIR/speed.json`) so a restart reuses it instead of measuring under
//! whatever load the restart happens in, and re-measured in the background only while no job
//! runs. The figure moves only when the median of the recent samples stays more than
//! `CHANGE_SIGNIFICANT_PCT` away from it for `CHANGE_SUSTAINED_CHECKS` re-measurements in a row;
//! only then is the on-chain offer updated.
//!
//! The figure judges jobs not yet seen. A job already accepted is never judged again (its
//! decision is in its journal record, see `acceptance`), so no measurement, however low, can
//! make the provider drop work it took on.

use crate::journal::write_synced;
use plexus_exec::{Engine, Job, MemoryCheckpoints};
use serde::{Deserialize, Serialize};
use std::{
    collections::BTreeSet,
    io,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};
use tracing::{info, warn};

/// Timed runs of the standard job at the first start (after one untimed warm-up run).
pub const SAMPLES_AT_START: usize = 5;
/// Samples kept: the figure follows the median of the most recent ones.
pub const SAMPLES_KEPT_MAX: usize = 7;
/// How far, in percent of the figure, the median of the recent samples must move to count.
pub const CHANGE_SIGNIFICANT_PCT: u64 = 25;
/// Re-measurements in a row whose median must have moved before the figure changes.
pub const CHANGE_SUSTAINED_CHECKS: u32 = 3;
/// Time between background re-measurements (each waits until no job runs).
pub const REMEASURE_EVERY: Duration = Duration::from_secs(600);
/// How often the background thread looks at the stop flag and for idleness.
const REMEASURE_POLL: Duration = Duration::from_millis(200);
/// The speed file under the provider's directory.
const SPEED_FILE: &str = "speed.json";
/// Images in the standard job (the built-in digits classifier over blank images).
const STANDARD_IMAGES: usize = 256;

/// Why the speed could not be measured, read or kept.
#[derive(Debug, thiserror::Error)]
pub enum SpeedError {
    #[error("the build has no built-in digits module to time")]
    NoStandardJob,
    #[error("the standard job's input: {0}")]
    Input(#[from] plexus_job_digits::InputError),
    #[error("admitting the standard job: {0}")]
    Admission(#[from] plexus_exec::AdmissionError),
    #[error("compiling the standard job: {0}")]
    Engine(#[from] plexus_exec::EngineError),
    #[error("running the standard job: {0}")]
    Exec(#[from] plexus_exec::ExecError),
    #[error("the standard job trapped: {trap}")]
    Trapped { trap: plexus_exec::TrapCode },
    #[error("speed file {path}: {source}")]
    File { path: PathBuf, source: io::Error },
    #[error("speed file {path} does not parse ({source}); delete it to measure again")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// The speed figure in force and the samples behind it (what `DIR/speed.json` holds).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeedEstimate {
    /// The figure registered on chain and used to judge new jobs, in fuel per second.
    pub fuel_per_second: u64,
    /// The most recent samples, oldest first (at most `SAMPLES_KEPT_MAX`), in fuel per second.
    pub samples: Vec<u64>,
    /// Re-measurements in a row after which the median was significantly off the figure.
    #[serde(default)]
    pub off_checks: u32,
}

/// The median of `samples`; of an even count, the lower middle one (a slower figure only makes
/// the provider refuse a borderline job, a faster one could make it miss a deadline). Zero for
/// no samples.
pub fn median(samples: &[u64]) -> u64 {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    match sorted.len() {
        0 => 0,
        n => sorted[(n - 1) / 2],
    }
}

impl SpeedEstimate {
    /// The estimate from the first samples: their median is the figure.
    pub fn from_samples(samples: &[u64]) -> Self {
        let kept = &samples[samples.len().saturating_sub(SAMPLES_KEPT_MAX)..];
        SpeedEstimate {
            fuel_per_second: median(kept).max(1),
            samples: kept.to_vec(),
            off_checks: 0,
        }
    }

    /// The median of the samples kept.
    pub fn median(&self) -> u64 {
        median(&self.samples)
    }

    /// Adds a re-measurement. Returns the new figure when it changes, which is when the median
    /// of the recent samples has been more than `CHANGE_SIGNIFICANT_PCT` off the figure for
    /// `CHANGE_SUSTAINED_CHECKS` re-measurements in a row; the offer must then be updated.
    pub fn observe(&mut self, sample: u64) -> Option<u64> {
        self.samples.push(sample);
        if self.samples.len() > SAMPLES_KEPT_MAX {
            self.samples.remove(0);
        }
        let median = self.median().max(1);
        let figure = u128::from(self.fuel_per_second);
        let off = u128::from(median.abs_diff(self.fuel_per_second));
        if off * 100 <= figure * u128::from(CHANGE_SIGNIFICANT_PCT) {
            self.off_checks = 0;
            return None;
        }
        self.off_checks += 1;
        if self.off_checks < CHANGE_SUSTAINED_CHECKS {
            return None;
        }
        self.fuel_per_second = median;
        self.off_checks = 0;
        Some(median)
    }

    fn path(dir: &Path) -> PathBuf {
        dir.join(SPEED_FILE)
    }

    /// The estimate kept in `dir`, if one was. A file that does not parse is an error (the
    /// operator deletes it to measure again), not silently replaced.
    pub fn load(dir: &Path) -> Result<Option<Self>, SpeedError> {
        let path = Self::path(dir);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(SpeedError::File { path, source }),
        };
        match serde_json::from_str::<SpeedEstimate>(&text) {
            Ok(estimate) if estimate.fuel_per_second > 0 => Ok(Some(estimate)),
            Ok(_) => Err(SpeedError::Corrupt {
                path,
                source: serde::de::Error::custom("a figure of zero fuel per second"),
            }),
            Err(source) => Err(SpeedError::Corrupt { path, source }),
        }
    }

    /// Keeps the estimate in `dir` (synced, replacing the old file whole).
    pub fn save(&self, dir: &Path) -> Result<(), SpeedError> {
        let path = Self::path(dir);
        let json = serde_json::to_vec_pretty(self).expect("an estimate serializes");
        write_synced(&path, &json).map_err(|source| SpeedError::File { path, source })
    }
}

/// The standard job, compiled once and timed as often as asked.
pub struct StandardJob {
    job: Job,
}

impl StandardJob {
    /// The built-in digits classifier over blank images, with metering and checkpoints on.
    pub fn new(engine: &Engine) -> Result<Self, SpeedError> {
        let builtin = plexus_exec::builtin::lookup("digits").ok_or(SpeedError::NoStandardJob)?;
        let admitted = plexus_exec::admit(builtin.wasm)?;
        let input = plexus_job_digits::encode_input(&vec![[0u8; 64]; STANDARD_IMAGES])?;
        Ok(StandardJob {
            job: Job {
                id: [7; 32],
                module: engine.compile(&admitted)?,
                input: input.into(),
                blobs: builtin.blobs.iter().map(|b| Arc::from(*b)).collect(),
                max_fuel: plexus_types::limits::JOB_FUEL_MAX,
                seg_fuel: plexus_exec::SEG_FUEL_DEFAULT,
            },
        })
    }

    /// One timed run: the fuel per second it went at (at least 1).
    pub fn sample(&self, engine: &Engine) -> Result<u64, SpeedError> {
        let started = Instant::now();
        let execution = plexus_exec::run(engine, &self.job, &mut MemoryCheckpoints::default())?;
        let seconds = started.elapsed().as_secs_f64().max(1e-6);
        if let plexus_exec::Outcome::Trapped(trap) = execution.outcome {
            return Err(SpeedError::Trapped { trap });
        }
        Ok(((execution.total_fuel as f64 / seconds) as u64).max(1))
    }

    /// One untimed warm-up run (caches, lazy initialization), then `count` samples.
    pub fn samples(&self, engine: &Engine, count: usize) -> Result<Vec<u64>, SpeedError> {
        self.sample(engine)?;
        (0..count).map(|_| self.sample(engine)).collect()
    }
}

/// The estimate to start with: the one kept in `dir`, else a fresh measurement (kept there).
pub fn estimate_at_start(engine: &Engine, dir: &Path) -> Result<SpeedEstimate, SpeedError> {
    if let Some(estimate) = SpeedEstimate::load(dir)? {
        info!(
            fuel_per_second = estimate.fuel_per_second,
            samples = ?estimate.samples,
            "using the speed measured before (speed.json); re-measured while idle"
        );
        return Ok(estimate);
    }
    let samples = StandardJob::new(engine)?.samples(engine, SAMPLES_AT_START)?;
    let estimate = SpeedEstimate::from_samples(&samples);
    estimate.save(dir)?;
    info!(
        fuel_per_second = estimate.fuel_per_second,
        ?samples,
        "measured the standard job: the median is the figure"
    );
    Ok(estimate)
}

/// What the background re-measurement needs.
pub struct Remeasure {
    pub estimate: SpeedEstimate,
    /// The provider's directory (the estimate is kept there after every sample).
    pub dir: PathBuf,
    /// Jobs executing now: a sample is taken only when there are none, and thrown away if one
    /// started meanwhile.
    pub running: Arc<Mutex<BTreeSet<String>>>,
    /// Where a changed figure is published for the agent (which updates the offer).
    pub figure: Arc<AtomicU64>,
    pub every: Duration,
}

impl Remeasure {
    /// Re-measures every `every` while idle until `stop` is set. A failed sample or save is
    /// logged and tried again next time: the figure in force stays.
    pub fn run(mut self, engine: &Engine, stop: &AtomicBool) {
        let job = match StandardJob::new(engine) {
            Ok(job) => job,
            Err(err) => {
                warn!(%err, "cannot re-measure the speed; keeping the figure");
                return;
            }
        };
        let idle = || {
            self.running
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .is_empty()
        };
        let mut last = Instant::now();
        while !stop.load(Ordering::Relaxed) {
            std::thread::sleep(REMEASURE_POLL);
            if last.elapsed() < self.every || !idle() {
                continue;
            }
            last = Instant::now();
            let sample = match job.sample(engine) {
                Ok(sample) if idle() => sample,
                Ok(_) => continue,
                Err(err) => {
                    warn!(%err, "re-measuring the speed failed");
                    continue;
                }
            };
            let changed = self.estimate.observe(sample);
            if let Err(err) = self.estimate.save(&self.dir) {
                warn!(%err, "cannot keep the speed estimate");
            }
            if let Some(figure) = changed {
                info!(
                    fuel_per_second = figure,
                    samples = ?self.estimate.samples,
                    "the speed changed for good: updating the offer"
                );
                self.figure.store(figure, Ordering::Relaxed);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn estimate(figure: u64, samples: &[u64]) -> SpeedEstimate {
        SpeedEstimate {
            fuel_per_second: figure,
            samples: samples.to_vec(),
            off_checks: 0,
        }
    }

    #[test]
    fn the_figure_is_the_median_not_one_noisy_sample() {
        assert_eq!(median(&[]), 0);
        assert_eq!(median(&[5]), 5);
        // One run under a build beside it (56) or one lucky run (900) does not move it.
        assert_eq!(median(&[100, 56, 104, 900, 98]), 100);
        // Of an even count, the lower middle: the slower side is the safe side.
        assert_eq!(median(&[10, 40, 20, 30]), 20);
        let start = SpeedEstimate::from_samples(&[100, 56, 104, 900, 98]);
        assert_eq!(start.fuel_per_second, 100);
        assert_eq!(start.off_checks, 0);
        // Never more than the window, never a zero figure (the chain refuses one).
        let many: Vec<u64> = (1..=20).collect();
        assert_eq!(
            SpeedEstimate::from_samples(&many).samples.len(),
            SAMPLES_KEPT_MAX
        );
        assert_eq!(SpeedEstimate::from_samples(&[]).fuel_per_second, 1);
    }

    #[test]
    fn a_momentary_slowdown_never_changes_the_offer() {
        let mut speed = estimate(100, &[100; SAMPLES_KEPT_MAX]);
        // Three slow samples in a row (a build beside the provider): the median holds.
        for _ in 0..3 {
            assert_eq!(speed.observe(20), None);
        }
        assert_eq!(speed.fuel_per_second, 100);
        // Back to normal: the slow samples age out without a change.
        for _ in 0..SAMPLES_KEPT_MAX {
            assert_eq!(speed.observe(101), None);
        }
        assert_eq!(speed.fuel_per_second, 100);
        // Moves within the significance band never count, however long they last.
        for _ in 0..3 * SAMPLES_KEPT_MAX {
            assert_eq!(speed.observe(124), None);
        }
        assert_eq!(speed.fuel_per_second, 100);
    }

    #[test]
    fn a_sustained_significant_change_updates_the_offer_once() {
        let mut speed = estimate(100, &[100; SAMPLES_KEPT_MAX]);
        // The machine got slower for good (a throttled card, a busier host): the median turns
        // after four of seven samples, then must stay off for three checks in a row.
        let updates: Vec<Option<u64>> = (0..8).map(|_| speed.observe(50)).collect();
        let first = updates.iter().position(Option::is_some).unwrap();
        assert_eq!(
            first,
            SAMPLES_KEPT_MAX / 2 + CHANGE_SUSTAINED_CHECKS as usize - 1
        );
        assert_eq!(updates[first], Some(50));
        assert!(updates[first + 1..].iter().all(Option::is_none), "once");
        assert_eq!(speed.fuel_per_second, 50);
        // Faster too, by the same rule.
        let updates: Vec<Option<u64>> = (0..8).map(|_| speed.observe(200)).collect();
        assert_eq!(updates.iter().flatten().collect::<Vec<_>>(), [&200]);
    }

    #[test]
    fn an_interrupted_streak_starts_over() {
        let mut speed = estimate(100, &[50, 50, 50, 50, 100, 100, 100]);
        // The median is already off; two checks off, then one back in band resets the count.
        assert_eq!(speed.observe(50), None);
        assert_eq!(speed.off_checks, 1);
        assert_eq!(speed.observe(50), None);
        assert_eq!(speed.observe(100), None);
        assert_eq!(speed.observe(100), None);
        assert_eq!(speed.off_checks, 0);
        assert_eq!(speed.fuel_per_second, 100);
    }

    fn tempdir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("plexus-speed-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_estimate_survives_a_restart_and_corruption_is_an_error() {
        let dir = tempdir("persist");
        assert!(SpeedEstimate::load(&dir).unwrap().is_none());
        let mut speed = SpeedEstimate::from_samples(&[90, 100, 110]);
        speed.observe(40);
        speed.save(&dir).unwrap();
        assert_eq!(SpeedEstimate::load(&dir).unwrap(), Some(speed.clone()));
        // What a restart starts from: the kept figure, no new measurement.
        let engine = Engine::new(Default::default()).unwrap();
        assert_eq!(estimate_at_start(&engine, &dir).unwrap(), speed);
        std::fs::write(dir.join(SPEED_FILE), "not json").unwrap();
        let err = SpeedEstimate::load(&dir).unwrap_err();
        assert!(matches!(err, SpeedError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("delete it"), "{err}");
        std::fs::write(
            dir.join(SPEED_FILE),
            r#"{"fuel_per_second":0,"samples":[]}"#,
        )
        .unwrap();
        assert!(matches!(
            SpeedEstimate::load(&dir),
            Err(SpeedError::Corrupt { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_first_start_measures_and_keeps_the_median() {
        let dir = tempdir("first");
        let engine = Engine::new(Default::default()).unwrap();
        let estimate = estimate_at_start(&engine, &dir).unwrap();
        assert_eq!(estimate.samples.len(), SAMPLES_AT_START);
        assert!(estimate.samples.iter().all(|s| *s > 0));
        assert_eq!(estimate.fuel_per_second, median(&estimate.samples));
        assert_eq!(SpeedEstimate::load(&dir).unwrap(), Some(estimate));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_background_re_measurement_moves_a_wrong_figure_and_keeps_it() {
        // A figure no machine reaches, with a full window behind it: sustained real samples
        // must replace it, publish it for the agent and keep it on disk.
        let dir = tempdir("background");
        let impossible = u64::MAX / 2;
        let figure = Arc::new(AtomicU64::new(impossible));
        let stop = Arc::new(AtomicBool::new(false));
        let remeasure = Remeasure {
            estimate: estimate(impossible, &[impossible; SAMPLES_KEPT_MAX]),
            dir: dir.clone(),
            running: Arc::new(Mutex::new(BTreeSet::new())),
            figure: figure.clone(),
            every: Duration::ZERO,
        };
        let thread = std::thread::spawn({
            let stop = stop.clone();
            move || remeasure.run(&Engine::new(Default::default()).unwrap(), &stop)
        });
        let deadline = Instant::now() + Duration::from_secs(300);
        while figure.load(Ordering::Relaxed) == impossible {
            assert!(Instant::now() < deadline, "the figure never moved");
            std::thread::sleep(Duration::from_millis(50));
        }
        stop.store(true, Ordering::Relaxed);
        thread.join().unwrap();
        let kept = SpeedEstimate::load(&dir).unwrap().unwrap();
        assert_eq!(kept.fuel_per_second, figure.load(Ordering::Relaxed));
        assert!(kept.fuel_per_second < impossible);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
