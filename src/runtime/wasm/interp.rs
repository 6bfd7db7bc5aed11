//! Child side: `plugctl __wasm`, run only inside the sandbox. It reads its [`Spec`] on
//! stdin, compiles the module with wasmi (an interpreter: no machine code is generated
//! from the plugin), instantiates it with WASI preview 1 (no preopened directory but the
//! `--allow-dir` ones, the environment of the spec only, stdout/stderr to its own, which
//! the parent captures and masks), calls `_initialize` and then each lifecycle phase
//! through the generated `plugctl_phase` export. Fuel is the CPU limit (reset for every
//! call, deterministic), a resource limiter caps linear memory, and a watchdog thread
//! stops the whole process at a phase's wall-clock limit after naming it.

use std::io::{Read, Write};
use std::os::fd::FromRawFd;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow};
use wasmi::{Config, Engine, Linker, Memory, Module, Store, TrapCode, TypedFunc};
use wasmi_wasi::WasiCtx;
use wasmi_wasi::wasi_common::random::Deterministic;

use super::spec::{Event, PhaseName, PhaseResult, PhaseStatus, Spec};

/// The target's report descriptor, as for the C shim and the Go harness.
const REPORT_FD: i32 = 3;

/// Exit code of a child stopped by its own watchdog.
pub const TIMEOUT_EXIT: i32 = 124;

/// Writes whole lines with one `write(2)` each, so the watchdog's last line is never torn.
#[derive(Clone)]
struct Emitter(Arc<Mutex<std::fs::File>>);

impl Emitter {
    fn emit(&self, event: &Event) {
        /// The runtime's report line that carries an interpreter event.
        #[derive(serde::Serialize)]
        struct Line<'a> {
            ev: &'static str,
            event: &'a Event,
        }
        let mut line = serde_json::to_vec(&Line { ev: "wasm", event }).unwrap_or_default();
        line.push(b'\n');
        let mut f = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let _ = f.write_all(&line);
    }
}

/// Linear-memory cap: a growth past it traps (named "memory limit"), and the peak is kept.
struct Limiter {
    limit: Option<usize>,
    peak: usize,
    denied: Option<usize>,
}

impl wasmi::ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        if self.limit.is_some_and(|l| desired > l) {
            self.denied = Some(desired);
            return Err(wasmi_core::LimiterError::ResourceLimiterDeniedAllocation);
        }
        if maximum.is_some_and(|m| desired > m) {
            return Ok(false);
        }
        self.peak = self.peak.max(desired);
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        maximum: Option<usize>,
    ) -> Result<bool, wasmi_core::LimiterError> {
        Ok(maximum.is_none_or(|m| desired <= m))
    }

    fn instances(&self) -> usize {
        1
    }

    fn tables(&self) -> usize {
        4
    }

    fn memories(&self) -> usize {
        1
    }
}

struct State {
    wasi: WasiCtx,
    limiter: Limiter,
}

/// Runs the child; returns its exit code (0 when every call was made and reported).
pub fn main() -> i32 {
    // SAFETY: the sandbox stage hands the target its report pipe on descriptor 3.
    let report = unsafe { std::fs::File::from_raw_fd(REPORT_FD) };
    let out = Emitter(Arc::new(Mutex::new(report)));
    // The interpreter recurses while validating and translating Go's large functions:
    // a thread with a stack of its own size, not the main thread's.
    let worker = std::thread::Builder::new()
        .name("wasm".into())
        .stack_size(STACK)
        .spawn(move || run(&out));
    match worker.map(|w| w.join()) {
        Ok(Ok(Ok(()))) => 0,
        Ok(Ok(Err(e))) => {
            eprintln!("plugctl __wasm: {e:#}");
            2
        }
        Ok(Err(_)) => 101,
        Err(e) => {
            eprintln!("plugctl __wasm: starting the interpreter thread: {e}");
            2
        }
    }
}

/// The interpreter thread's stack.
const STACK: usize = 256 << 20;

fn read_spec() -> Result<Spec> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .context("reading the spec on stdin")?;
    // Under gVisor a newline releases the target first.
    serde_json::from_str(text.trim_start()).context("parsing the spec")
}

/// The WASI context: the spec's variables only, no arguments but the module's name,
/// the process's stdout/stderr (captured outside), read-only preopens of `--allow-dir`
/// (the sandbox binds them read-only too), and a fixed random stream so the same module
/// and input burn the same fuel (Go seeds its map hashing from it).
fn wasi_ctx(spec: &Spec) -> Result<WasiCtx> {
    let mut seed = Vec::with_capacity(256);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for _ in 0..32 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        seed.extend_from_slice(&x.to_le_bytes());
    }
    let mut ctx = WasiCtx::new(
        Box::new(Deterministic::new(seed)),
        wasmi_wasi::clocks_ctx(),
        wasmi_wasi::sched_ctx(),
        wasmi_wasi::wasi_common::Table::new(),
    );
    ctx.set_stdout(Box::new(wasmi_wasi::stdio::stdout()));
    ctx.set_stderr(Box::new(wasmi_wasi::stdio::stderr()));
    ctx.push_arg("plugin.wasm").context("WASI arguments")?;
    for (k, v) in &spec.env {
        ctx.push_env(k, v).context("WASI environment")?;
    }
    for dir in &spec.allow_dirs {
        let opened = wasmi_wasi::Dir::open_ambient_dir(dir, wasmi_wasi::ambient_authority())
            .with_context(|| format!("--allow-dir {dir}"))?;
        ctx.push_preopened_dir(Box::new(wasmi_wasi::dir::Dir::from_cap_std(opened)), dir)
            .with_context(|| format!("--allow-dir {dir}"))?;
    }
    Ok(ctx)
}

/// The watchdog: stops the process when the current phase passes its wall-clock limit.
fn watchdog(out: Emitter, current: Arc<Mutex<Option<(PhaseName, Instant)>>>, limit: Duration) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(Duration::from_millis(5));
            let now = *current.lock().unwrap_or_else(|e| e.into_inner());
            if let Some((phase, started)) = now
                && started.elapsed() >= limit
            {
                out.emit(&Event::PhaseTimeout {
                    phase,
                    after_ms: started.elapsed().as_millis() as u64,
                });
                let _ = std::io::stdout().flush();
                // SAFETY: ends this process at once; nothing else must run in it.
                unsafe { libc::_exit(TIMEOUT_EXIT) };
            }
        }
    });
}

/// What a failed call into the module was.
fn classify(e: &wasmi::Error, state: &State) -> (PhaseStatus, String) {
    if let Some(desired) = state.limiter.denied {
        return (
            PhaseStatus::MemoryLimit,
            format!(
                "memory limit: linear memory would grow to {} MiB (limit {} MiB)",
                desired >> 20,
                state.limiter.limit.unwrap_or(0) >> 20
            ),
        );
    }
    if let Some(code) = e.i32_exit_status() {
        return (
            PhaseStatus::Exit,
            format!("the module exited with code {code}"),
        );
    }
    match e.as_trap_code() {
        Some(TrapCode::OutOfFuel) => (PhaseStatus::OutOfFuel, "out of fuel".to_string()),
        _ => (PhaseStatus::Trap, format!("trap: {e}")),
    }
}

fn burned(store: &Store<State>, given: u64) -> u64 {
    given.saturating_sub(store.get_fuel().unwrap_or(0))
}

/// The string the wrapper left in linear memory: `(address << 32) | length`.
fn read_packed(memory: &Memory, store: &Store<State>, packed: i64) -> (u8, String) {
    if packed == 0 {
        return (0, String::new());
    }
    let addr = (packed as u64 >> 32) as usize;
    let len = (packed as u64 & 0xffff_ffff) as usize;
    let data = memory.data(store);
    match data.get(addr..addr.saturating_add(len)) {
        Some(bytes) if !bytes.is_empty() => {
            (bytes[0], String::from_utf8_lossy(&bytes[1..]).into_owned())
        }
        _ => (b'?', format!("bad string at {addr:#x}+{len}")),
    }
}

fn run(out: &Emitter) -> Result<()> {
    let spec = read_spec()?;
    let mut config = Config::default();
    config.consume_fuel(true);
    let engine = Engine::new(&config);
    let started = Instant::now();
    let bytes = std::fs::read(&spec.module).with_context(|| format!("reading {}", spec.module))?;
    let module = Module::new(&engine, &bytes[..])
        .map_err(|e| anyhow!("{}: not a valid WebAssembly module: {e}", spec.module))?;
    out.emit(&Event::Compiled {
        ms: started.elapsed().as_secs_f64() * 1000.0,
        bytes: bytes.len() as u64,
    });

    let mut store = Store::new(
        &engine,
        State {
            wasi: wasi_ctx(&spec)?,
            limiter: Limiter {
                limit: spec.memory_limit.map(|l| l as usize),
                peak: 0,
                denied: None,
            },
        },
    );
    store.limiter(|s| &mut s.limiter);
    let mut linker = Linker::<State>::new(&engine);
    wasmi_wasi::add_to_linker(&mut linker, |s| &mut s.wasi)
        .map_err(|e| anyhow!("WASI imports: {e}"))?;

    let current: Arc<Mutex<Option<(PhaseName, Instant)>>> = Arc::default();
    let limit = Duration::from_millis(spec.phase_timeout_ms);
    watchdog(out.clone(), Arc::clone(&current), limit);

    // Instantiation: the Go runtime and the package's init, under the same limits.
    let started = Instant::now();
    store
        .set_fuel(spec.fuel)
        .map_err(|e| anyhow!("fuel: {e}"))?;
    let instance = match linker
        .instantiate_and_start(&mut store, &module)
        .and_then(|i| {
            let init = i.get_typed_func::<(), ()>(&store, "_initialize")?;
            init.call(&mut store, ())?;
            Ok(i)
        }) {
        Ok(i) => i,
        Err(e) => {
            let (status, error) = classify(&e, store.data());
            out.emit(&Event::InstantiateFailed {
                status,
                error,
                fuel: burned(&store, spec.fuel),
            });
            return Ok(());
        }
    };
    let memory = instance
        .get_memory(&store, "memory")
        .context("the module exports no memory")?;
    out.emit(&Event::Instantiated {
        ms: started.elapsed().as_secs_f64() * 1000.0,
        fuel: burned(&store, spec.fuel),
        memory_bytes: memory.data_size(&store) as u64,
    });
    let phase_fn: TypedFunc<(i32, i64), i64> = instance
        .get_typed_func(&store, "plugctl_phase")
        .context("the module has no plugctl_phase export (not built by plugctl load --wasm)")?;
    let type_fn: TypedFunc<i32, i64> = instance
        .get_typed_func(&store, "plugctl_type")
        .context("the module has no plugctl_type export")?;

    let mut failed = false;
    for &phase in &spec.phases {
        let go_type = match type_fn.call(&mut store, phase.index()) {
            Ok(p) => match read_packed(&memory, &store, p) {
                (b't', t) => Some(t),
                _ => None,
            },
            Err(_) => None,
        };
        // Close runs even after a failed Init or Run, as a host would; Run does not.
        if failed && phase == PhaseName::Run {
            out.emit(&Event::Phase(PhaseResult {
                phase,
                status: PhaseStatus::Skipped,
                go_type,
                error: Some("Init did not succeed".into()),
                ms: 0.0,
                fuel: 0,
                memory_bytes: memory.data_size(&store) as u64,
            }));
            continue;
        }
        out.emit(&Event::PhaseBegin { phase });
        store
            .set_fuel(spec.fuel)
            .map_err(|e| anyhow!("fuel: {e}"))?;
        let started = Instant::now();
        *current.lock().unwrap_or_else(|e| e.into_inner()) = Some((phase, started));
        let result = phase_fn.call(
            &mut store,
            (phase.index(), limit.as_nanos().min(i64::MAX as u128) as i64),
        );
        *current.lock().unwrap_or_else(|e| e.into_inner()) = None;
        let ms = started.elapsed().as_secs_f64() * 1000.0;
        let fuel = burned(&store, spec.fuel);
        let (status, error) = match result {
            Ok(packed) => match read_packed(&memory, &store, packed) {
                (0, _) => (PhaseStatus::Ok, None),
                (b'e', t) => (PhaseStatus::Error, Some(t)),
                (b'p', t) => (PhaseStatus::Panic, Some(t)),
                (b's', t) => (
                    PhaseStatus::BadSignature,
                    Some(format!(
                        "{t}: a lifecycle function takes nothing or a context.Context and returns nothing or an error"
                    )),
                ),
                (b'm', _) => (PhaseStatus::Missing, None),
                (_, t) => (PhaseStatus::Trap, Some(t)),
            },
            Err(e) => {
                let (s, t) = classify(&e, store.data());
                (s, Some(t))
            }
        };
        let fatal = !matches!(
            status,
            PhaseStatus::Ok
                | PhaseStatus::Error
                | PhaseStatus::Panic
                | PhaseStatus::Missing
                | PhaseStatus::BadSignature
        );
        if phase == PhaseName::Init && status != PhaseStatus::Ok && status != PhaseStatus::Missing {
            failed = true;
        }
        out.emit(&Event::Phase(PhaseResult {
            phase,
            status,
            go_type,
            error,
            ms,
            fuel,
            memory_bytes: memory.data_size(&store) as u64,
        }));
        // A trapped instance cannot be called again.
        if fatal {
            break;
        }
    }
    out.emit(&Event::Done {
        peak_memory_bytes: store.data().limiter.peak.max(memory.data_size(&store)) as u64,
    });
    Ok(())
}
