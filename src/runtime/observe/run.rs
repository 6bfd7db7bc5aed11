//! Reading one child's run: where it stopped, how it died, what it was busy with.

use crate::runtime::child::ChildRun;
use crate::runtime::events::{self, Event};

/// The C library's name for a signal (`Segmentation fault`, `Bus error`), as a shell or
/// the loader emulation prints it.
pub(super) fn strsignal(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a static or thread-local string.
    unsafe {
        let p = libc::strsignal(sig);
        if p.is_null() {
            return format!("signal {sig}");
        }
        std::ffi::CStr::from_ptr(p).to_string_lossy().into_owned()
    }
}

/// A step a child reports twice, before and after: the shim's `dlopen` or the harness's
/// `plugin.Open`.
#[derive(Debug, Clone, Copy)]
pub(super) enum Step {
    Dlopen,
    Open,
}

impl Step {
    /// `Some(index)` for the step's `-begin` event.
    fn begun(self, e: &Event) -> Option<i64> {
        match (self, e) {
            (Step::Dlopen, Event::DlopenBegin { index })
            | (Step::Open, Event::OpenBegin { index }) => Some(*index),
            _ => None,
        }
    }

    /// `Some(index)` for the step's result event.
    fn ended(self, e: &Event) -> Option<i64> {
        match (self, e) {
            (Step::Dlopen, Event::Dlopen(d)) => Some(d.index),
            (Step::Open, Event::Open(o)) => Some(o.index),
            _ => None,
        }
    }
}

/// Where a run stopped: the index it was working on when it ended without `done`.
pub(super) fn crashed_at(run: &ChildRun, step: Step) -> Option<i64> {
    if run.finished() {
        return None;
    }
    let mut open: Option<i64> = None;
    for e in run.target_events() {
        if let Some(i) = step.begun(e) {
            open = Some(i);
        } else if step.ended(e).is_some_and(|i| Some(i) == open) {
            open = None;
        }
    }
    open
}

/// How a run that did not finish ended, in one line (with the fatal line for Go).
pub(super) fn death(run: &ChildRun) -> String {
    let mut text = run.ended.describe();
    if let Some(line) = run.fatal_line() {
        text.push_str(&format!(": {line}"));
    }
    if let Some(hit) = run.limits_hit.first() {
        text.push_str(&format!(" [{} limit: {}]", hit.limit, hit.by));
    }
    if let Some(error) = run.exec_failed() {
        text.push_str(&format!(" [{error}]"));
    }
    text
}

/// Which artifact a run was busy with when it ended (for attributing limit hits).
pub fn busy_with(run: &ChildRun) -> Option<i64> {
    if run.finished() {
        return None;
    }
    run.target_events().filter_map(Event::index).last()
}

/// The harness's `open` event for plugin (or reload copy) `index`.
pub(super) fn opened(run: &ChildRun, index: i64) -> Option<&events::Open> {
    run.target_events().find_map(|e| match e {
        Event::Open(o) if o.index == index => Some(o),
        _ => None,
    })
}
