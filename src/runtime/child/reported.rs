//! What the sandbox stage and the target reported, typed: their events, the isolation the
//! stage set up, and how the target ended.

use std::sync::Arc;

use super::Ended;
use super::run::Backend;
use super::signal_name;
use crate::runtime::env::Masker;
use crate::runtime::events::{Event, Exit, Isolation};

/// What a child's report lines say, typed.
pub(super) struct Reported {
    /// The stage's events (the probe first), then the target's.
    pub(super) events: Vec<Event>,
    pub(super) isolation: Option<Isolation>,
    pub(super) exit: Option<Exit>,
}

/// Parses the stage's and the target's report lines (secrets masked). Under gVisor
/// (`probe_line`), only the probe line read before the target ran counts.
pub(super) fn read_events(
    stage: &str,
    report: &str,
    masker: &Masker,
    probe_line: Option<&Arc<std::sync::Mutex<Option<String>>>>,
    notes: &mut Vec<String>,
) -> Reported {
    let parse = |text: &str| -> Vec<(String, Event)> {
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let line = masker.mask(l);
                let event = Event::parse(&line);
                (line, event)
            })
            .collect()
    };
    let mut stage_events = parse(stage);
    if let Some(probe_line) = probe_line {
        // Only the probe line read before the target ran counts.
        let captured = probe_line.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let in_file: Vec<String> = stage_events
            .iter()
            .filter(|(_, e)| matches!(e, Event::Sandbox(_)))
            .map(|(line, _)| line.clone())
            .collect();
        stage_events.retain(|(_, e)| !matches!(e, Event::Sandbox(_)));
        if let Some(line) = captured {
            let first = parse(&line).into_iter().next();
            if in_file.len() != 1 || Some(&in_file[0]) != first.as_ref().map(|(l, _)| l) {
                notes.push("the stage's report file was rewritten inside the sandbox after the probe; the probe as read before the target ran is used".into());
            }
            if let Some(first) = first {
                stage_events.insert(0, first);
            }
        }
    }
    let mut events: Vec<Event> = stage_events.into_iter().map(|(_, e)| e).collect();
    // The stage's events come only from the stage's own channel.
    let target_events = parse(report)
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| !matches!(e, Event::Sandbox(_) | Event::Exit(_)));
    let isolation: Option<Isolation> = events.iter().find_map(|e| match e {
        Event::Sandbox(i) => Some((**i).clone()),
        _ => None,
    });
    // The stage writes its exit line after the target is gone: the last one is its.
    let exit: Option<Exit> = events.iter().rev().find_map(|e| match e {
        Event::Exit(x) => Some(x.clone()),
        _ => None,
    });
    events.extend(target_events);
    Reported {
        events,
        isolation,
        exit,
    }
}

/// How the target ended: killed at the deadline, else as the stage reported, else as
/// the sandbox process itself ended.
pub(super) fn ended_of(
    timed_out: Option<u64>,
    exit: Option<&Exit>,
    status: i32,
    backend: &Backend,
    notes: &mut Vec<String>,
) -> Ended {
    match (timed_out, exit) {
        (Some(after_ms), _) => Ended::TimedOut { after_ms },
        (
            None,
            Some(Exit {
                signal: Some(signal),
                core_dumped,
                ..
            }),
        ) => Ended::Signaled {
            signal: *signal,
            name: signal_name(*signal),
            core_dumped: *core_dumped,
        },
        (None, Some(e)) => Ended::Exited {
            code: e.code.unwrap_or(0),
        },
        (None, None) if libc::WIFEXITED(status) => {
            let code = libc::WEXITSTATUS(status);
            notes.push(format!(
                "the sandbox stage did not report how the target ended (it was killed from inside the sandbox, or could not start); {} exited {code}",
                backend.name
            ));
            // bwrap and runsc pass a signal on as 128 + its number.
            if code > 128 && code < 128 + 65 {
                Ended::Signaled {
                    signal: code - 128,
                    name: signal_name(code - 128),
                    core_dumped: false,
                }
            } else {
                Ended::Exited { code }
            }
        }
        (None, None) => {
            let signal = libc::WTERMSIG(status);
            Ended::Signaled {
                signal,
                name: signal_name(signal),
                core_dumped: libc::WCOREDUMP(status),
            }
        }
    }
}
