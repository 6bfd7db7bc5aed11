//! Progress on stderr, for every engine that takes a while (`build`, `doctor`, `matrix`,
//! `load`):
//! indicatif bars and spinners when stderr is a terminal, plain lines otherwise, nothing
//! with `--quiet`. The engines only call; what a line looks like is decided here.

use std::collections::HashMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

const TICK: Duration = Duration::from_millis(120);

/// One command's progress on stderr.
pub struct Progress {
    quiet: bool,
    started: Instant,
    /// Plain lines start with the time since the start (`[   1.2s] `) instead of `plugctl: `.
    stamped: bool,
    /// On a terminal: the bars.
    bars: Option<Bars>,
    /// The step under way and when it began (for its `done` line on a terminal).
    current: Mutex<Option<(String, Instant)>>,
}

struct Bars {
    multi: MultiProgress,
    /// The spinner of the current step, or the bar counting finished tasks.
    main: ProgressBar,
    /// One spinner per running task (a matrix row), by id.
    tasks: Mutex<HashMap<String, ProgressBar>>,
}

impl Progress {
    /// Bars when stderr is a terminal and not `quiet`.
    pub fn new(quiet: bool) -> Progress {
        let bars = (!quiet && std::io::stderr().is_terminal()).then(|| {
            let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
            let main = multi.add(ProgressBar::new_spinner());
            main.set_style(style("{spinner} [{elapsed:>3}] {msg}"));
            Bars {
                multi,
                main,
                tasks: Mutex::new(HashMap::new()),
            }
        });
        Progress {
            quiet,
            started: Instant::now(),
            stamped: false,
            bars,
            current: Mutex::new(None),
        }
    }

    /// Plain lines stamped with the time since the start (the matrix's log).
    pub fn stamped(mut self) -> Progress {
        self.stamped = true;
        self
    }

    /// Whether the bars are drawn (else every line is a plain line).
    pub fn on_terminal(&self) -> bool {
        self.bars.is_some()
    }

    /// A line of its own: above the bars on a terminal, else as it comes.
    pub fn line(&self, text: &str) {
        if self.quiet {
            return;
        }
        let text = if self.stamped {
            format!("[{:>6.1}s] {text}", self.started.elapsed().as_secs_f64())
        } else {
            format!("plugctl: {text}")
        };
        match &self.bars {
            Some(b) => {
                let _ = b.multi.println(text);
            }
            None => eprintln!("{text}"),
        }
    }

    /// The step under way: the spinner's message on a terminal (the previous step gets a
    /// `done` line with its time), a plain line otherwise.
    pub fn step(&self, message: &str) {
        if self.quiet {
            return;
        }
        self.close_step();
        if let Ok(mut current) = self.current.lock() {
            *current = Some((message.to_string(), Instant::now()));
        }
        match &self.bars {
            Some(_) => self.status(message),
            None => self.line(message),
        }
    }

    /// What is happening now, on the spinner only (no line on a plain stream).
    pub fn status(&self, message: &str) {
        if let Some(b) = &self.bars {
            b.main.set_message(message.to_string());
            b.main.enable_steady_tick(TICK);
        }
    }

    /// Counted work from here on: a bar of `total` tasks on a terminal.
    pub fn count(&self, total: usize, unit: &str) {
        if let Some(b) = &self.bars {
            b.main.set_style(
                style(&format!(
                    "[{{elapsed_precise}}] {{bar:32.cyan/blue}} {{pos}}/{{len}} {unit} {{msg}}"
                ))
                .progress_chars("=> "),
            );
            b.main.set_length(total as u64);
            b.main.enable_steady_tick(Duration::from_millis(200));
        }
    }

    /// A task began (a spinner of its own on a terminal).
    pub fn task_started(&self, id: &str) {
        if let Some(b) = &self.bars {
            let bar = b.multi.add(ProgressBar::new_spinner());
            bar.set_style(style("  {spinner} {prefix}: {wide_msg} [{elapsed}]"));
            bar.set_prefix(id.to_string());
            bar.set_message("starting");
            bar.enable_steady_tick(TICK);
            b.tasks.lock().expect("lock").insert(id.to_string(), bar);
        }
    }

    /// A task's current step, on its spinner.
    pub fn task_step(&self, id: &str, message: &str) {
        if let Some(b) = &self.bars
            && let Some(bar) = b.tasks.lock().expect("lock").get(id)
        {
            bar.set_message(message.to_string());
        }
    }

    /// A task ended: its spinner goes, the count goes up.
    pub fn task_finished(&self, id: &str) {
        if let Some(b) = &self.bars {
            if let Some(bar) = b.tasks.lock().expect("lock").remove(id) {
                bar.finish_and_clear();
                b.multi.remove(&bar);
            }
            b.main.inc(1);
        }
    }

    /// Ends the current step and clears the bars.
    pub fn finish(&self) {
        self.close_step();
        if let Some(b) = &self.bars {
            for (_, bar) in b.tasks.lock().expect("lock").drain() {
                bar.finish_and_clear();
            }
            b.main.finish_and_clear();
        }
    }

    fn close_step(&self) {
        let previous = self.current.lock().ok().and_then(|mut c| c.take());
        if let (Some(b), Some((message, started))) = (&self.bars, previous) {
            let _ = b.multi.println(format!(
                "  done {message} ({:.1} s)",
                started.elapsed().as_secs_f64()
            ));
        }
    }
}

/// Bars left by an early return (an error) are cleared, without a `done` line.
impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(b) = &self.bars {
            for (_, bar) in b.tasks.lock().unwrap_or_else(|e| e.into_inner()).drain() {
                bar.finish_and_clear();
            }
            b.main.finish_and_clear();
        }
    }
}

fn style(template: &str) -> ProgressStyle {
    ProgressStyle::with_template(template).unwrap_or_else(|_| ProgressStyle::default_spinner())
}

/// The build engine's steps.
impl crate::gobuild::Progress for Progress {
    fn step(&self, message: &str) {
        Progress::step(self, message);
    }
}
