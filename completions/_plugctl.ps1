
using namespace System.Management.Automation
using namespace System.Management.Automation.Language

Register-ArgumentCompleter -Native -CommandName 'plugctl' -ScriptBlock {
    param($wordToComplete, $commandAst, $cursorPosition)

    $commandElements = $commandAst.CommandElements
    $command = @(
        'plugctl'
        for ($i = 1; $i -lt $commandElements.Count; $i++) {
            $element = $commandElements[$i]
            if ($element -isnot [StringConstantExpressionAst] -or
                $element.StringConstantType -ne [StringConstantType]::BareWord -or
                $element.Value.StartsWith('-') -or
                $element.Value -eq $wordToComplete) {
                break
        }
        $element.Value
    }) -join ';'

    $completions = @(switch ($command) {
        'plugctl' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Read ELF shared objects and Go plugins (never executing them) and predict how they load')
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified')
            [CompletionResult]::new('contract', 'contract', [CompletionResultType]::ParameterValue, 'Read a Go plugin''s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Compare two artifacts'' build facts and say which difference explains the others')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load plugins for real in sandboxed child processes and report every layer')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain a finding code: what it means, how it is detected, the runtime error, the fix')
            [CompletionResult]::new('matrix', 'matrix', [CompletionResultType]::ParameterValue, 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plugctl;inspect' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The Go (or C) program that will load the artifacts; enables Go''s plugin checks')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines, `sarif` for code scanning')
            [CompletionResult]::new('--fail-on', '--fail-on', [CompletionResultType]::ParameterName, 'Exit 1 when a finding of this severity or above is present')
            [CompletionResult]::new('--ld-library-path', '--ld-library-path', [CompletionResultType]::ParameterName, 'LD_LIBRARY_PATH to assume (default: this process''s environment)')
            [CompletionResult]::new('--sysroot', '--sysroot', [CompletionResultType]::ParameterName, 'The target''s root file system (an unpacked container image, a cross sysroot such as /usr/aarch64-linux-gnu): libraries, ld.so.cache and the interpreter are read inside DIR. HOST and ARTIFACT stay paths on this machine. The target''s architecture is the host''s (without a host: the first artifact''s, when --sysroot is given); a foreign host without --sysroot gets a Go-level prediction that assumes the target''s libraries are present')
            [CompletionResult]::new('--go', '--go', [CompletionResultType]::ParameterName, 'With --wasm-ready: build with this Go release (default: go.mod''s, or the newest installed ≥ 1.24)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-r', '-r', [CompletionResultType]::ParameterName, 'Walk directories given as ARTIFACT and inspect every ELF file below them')
            [CompletionResult]::new('--recursive', '--recursive', [CompletionResultType]::ParameterName, 'Walk directories given as ARTIFACT and inspect every ELF file below them')
            [CompletionResult]::new('--symbols', '--symbols', [CompletionResultType]::ParameterName, 'List undefined dynamic symbols and Go plugin exports in full')
            [CompletionResult]::new('--tree', '--tree', [CompletionResultType]::ParameterName, 'Show the dependency tree with where each library was found and why')
            [CompletionResult]::new('--lazy', '--lazy', [CompletionResultType]::ParameterName, 'Predict for dlopen(RTLD_LAZY) instead of RTLD_NOW (only for C hosts; Go always uses RTLD_NOW)')
            [CompletionResult]::new('--sequence', '--sequence', [CompletionResultType]::ParameterName, 'One process opens every artifact, in the order given (or sorted, with -r): each sees what the earlier ones bound (static TLS, plugin paths, package hashes). The default with a Go `--host`: a program calling plugin.Open loads its plugin directory into one process, in an order')
            [CompletionResult]::new('--each', '--each', [CompletionResultType]::ParameterName, 'Each artifact in a fresh process of its own (of `--host`, or of a minimal C program). The default without a Go host: a directory of libraries is a set of independent candidates, not one process')
            [CompletionResult]::new('--wasm-ready', '--wasm-ready', [CompletionResultType]::ParameterName, 'Treat each ARTIFACT as a plugin''s source package directory and report what blocks running it as WebAssembly (GOOS=wasip1): cgo, packages without wasip1 support, APIs wasip1 lacks or stubs, each with file, line and import chain')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help (see more with ''--help'')')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;build' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('-o', '-o', [CompletionResultType]::ParameterName, 'Where to write the plugin; the manifest goes to OUT.plugctl.json')
            [CompletionResult]::new('--output', '--output', [CompletionResultType]::ParameterName, 'Where to write the plugin; the manifest goes to OUT.plugctl.json')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The Go program that will load the plugin: its toolchain, flags and modules are mirrored')
            [CompletionResult]::new('--go', '--go', [CompletionResultType]::ParameterName, 'Go release to build with (default: the host''s)')
            [CompletionResult]::new('--goos', '--goos', [CompletionResultType]::ParameterName, 'Target OS (default: the host''s, else linux)')
            [CompletionResult]::new('--goarch', '--goarch', [CompletionResultType]::ParameterName, 'Target architecture (default: the host''s, else this machine''s)')
            [CompletionResult]::new('--gcflags', '--gcflags', [CompletionResultType]::ParameterName, '-gcflags value')
            [CompletionResult]::new('--tags', '--tags', [CompletionResultType]::ParameterName, '-tags value')
            [CompletionResult]::new('--ldflags', '--ldflags', [CompletionResultType]::ParameterName, '-ldflags value (never mirrored from a host: link flags do not change package hashes)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Extra build environment, e.g. GOAMD64=v3 or GOEXPERIMENT=... (repeatable)')
            [CompletionResult]::new('--replace', '--replace', [CompletionResultType]::ParameterName, 'The host''s source of a shared module: a directory or PATH@VERSION (repeatable)')
            [CompletionResult]::new('--host-src', '--host-src', [CompletionResultType]::ParameterName, 'The host''s module directory: the host''s relative replacements resolve against it')
            [CompletionResult]::new('--load-timeout', '--load-timeout', [CompletionResultType]::ParameterName, 'Seconds the --load harness may take')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines (the manifest)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--trimpath', '--trimpath', [CompletionResultType]::ParameterName, 'Build with -trimpath (mirrored from the host when it has it)')
            [CompletionResult]::new('--race', '--race', [CompletionResultType]::ParameterName, 'Build with -race')
            [CompletionResult]::new('--msan', '--msan', [CompletionResultType]::ParameterName, 'Build with -msan')
            [CompletionResult]::new('--asan', '--asan', [CompletionResultType]::ParameterName, 'Build with -asan')
            [CompletionResult]::new('--write', '--write', [CompletionResultType]::ParameterName, 'Write the alignment into the plugin''s go.mod and go.sum (default: a temporary copy)')
            [CompletionResult]::new('--load', '--load', [CompletionResultType]::ParameterName, 'Also load the plugin for real, in a harness built like the host')
            [CompletionResult]::new('--verify-repro', '--verify-repro', [CompletionResultType]::ParameterName, 'Rebuild in another directory with an empty build cache and compare the SHA-256')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;contract' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--symbol', '--symbol', [CompletionResultType]::ParameterName, 'Show only this exported symbol (and the structs it reaches)')
            [CompletionResult]::new('--schema', '--schema', [CompletionResultType]::ParameterName, 'Emit JSON Schema for a struct: a type (`main.Config`), a type name (`Config`) or an exported variable of that type')
            [CompletionResult]::new('--config', '--config', [CompletionResultType]::ParameterName, 'Validate this JSON config against the --schema struct; exit 1 on any violation')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines (a schema is always JSON)')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;diff' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;load' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--host', '--host', [CompletionResultType]::ParameterName, 'The Go program that will load them: the harness mirrors its toolchain and flags')
            [CompletionResult]::new('--go', '--go', [CompletionResultType]::ParameterName, 'Build the harness with this Go release (with the plugin''s flags)')
            [CompletionResult]::new('--env', '--env', [CompletionResultType]::ParameterName, 'Pass NAME=VALUE (or NAME, taking plugctl''s own value) to the child; repeatable. The child''s environment holds nothing else. Values of secret-looking names are masked')
            [CompletionResult]::new('--env-file', '--env-file', [CompletionResultType]::ParameterName, 'Read variables from a dotenv-style file; repeatable')
            [CompletionResult]::new('--expect', '--expect', [CompletionResultType]::ParameterName, 'Expected export and Go type, e.g. ''Handler=func(context.Context) error''; repeatable')
            [CompletionResult]::new('--contract', '--contract', [CompletionResultType]::ParameterName, 'A contract file (TOML: [expect] NAME = "TYPE", [lifecycle] init/run/close/phase_timeout)')
            [CompletionResult]::new('--init', '--init', [CompletionResultType]::ParameterName, 'Name of the init function ("" for none)')
            [CompletionResult]::new('--run', '--run', [CompletionResultType]::ParameterName, 'Name of the run function ("" for none)')
            [CompletionResult]::new('--close', '--close', [CompletionResultType]::ParameterName, 'Name of the close function ("" for none)')
            [CompletionResult]::new('--phase-timeout', '--phase-timeout', [CompletionResultType]::ParameterName, 'Time each lifecycle phase may take (default 10s)')
            [CompletionResult]::new('--run-for', '--run-for', [CompletionResultType]::ParameterName, 'Cancel Run''s context after this long (default: never)')
            [CompletionResult]::new('--timeout', '--timeout', [CompletionResultType]::ParameterName, 'Wall-clock limit per child process')
            [CompletionResult]::new('--reload', '--reload', [CompletionResultType]::ParameterName, 'Open N rebuilt copies one after another in one host (needs --source)')
            [CompletionResult]::new('--source', '--source', [CompletionResultType]::ParameterName, 'The plugin''s main package directory, for --reload')
            [CompletionResult]::new('--memory', '--memory', [CompletionResultType]::ParameterName, 'Memory limit (cgroup memory controller; RLIMIT_DATA as a backstop), e.g. 256M')
            [CompletionResult]::new('--cpu-time', '--cpu-time', [CompletionResultType]::ParameterName, 'CPU time limit (RLIMIT_CPU), e.g. 10s')
            [CompletionResult]::new('--cpus', '--cpus', [CompletionResultType]::ParameterName, 'CPU bandwidth in CPUs (cgroup cpu controller), e.g. 0.5')
            [CompletionResult]::new('--max-pids', '--max-pids', [CompletionResultType]::ParameterName, 'Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC)')
            [CompletionResult]::new('--max-threads', '--max-threads', [CompletionResultType]::ParameterName, 'Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC)')
            [CompletionResult]::new('--open-files', '--open-files', [CompletionResultType]::ParameterName, 'Maximum open files (RLIMIT_NOFILE)')
            [CompletionResult]::new('--network', '--network', [CompletionResultType]::ParameterName, 'Network for the child: `none` (a new, empty network namespace) or `host`')
            [CompletionResult]::new('--seccomp', '--seccomp', [CompletionResultType]::ParameterName, '`learn [OUT.json]` (default seccomp-profile.json) or `enforce PROFILE.json`')
            [CompletionResult]::new('--sandbox', '--sandbox', [CompletionResultType]::ParameterName, '`native` (namespaces, cgroups, rlimits, seccomp) or `gvisor` (runsc, when installed)')
            [CompletionResult]::new('--fuel', '--fuel', [CompletionResultType]::ParameterName, 'With --wasm: fuel per call (the deterministic CPU limit, about one unit per instruction; default 50000000000)')
            [CompletionResult]::new('--allow-dir', '--allow-dir', [CompletionResultType]::ParameterName, 'With --wasm: preopen DIR read-only for the module (default: no file system); repeatable')
            [CompletionResult]::new('--trace-out', '--trace-out', [CompletionResultType]::ParameterName, 'Write the trace as a Chrome Trace Event / Perfetto timeline (implies --trace)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--lazy', '--lazy', [CompletionResultType]::ParameterName, 'dlopen with RTLD_LAZY in the loader layer (Go always uses RTLD_NOW)')
            [CompletionResult]::new('--loader-only', '--loader-only', [CompletionResultType]::ParameterName, 'Only the loader layer (the C shim), no Go harness')
            [CompletionResult]::new('--env-after-open', '--env-after-open', [CompletionResultType]::ParameterName, 'Set the variables after plugin.Open instead of before, and report whether the plugin saw them')
            [CompletionResult]::new('--lifecycle-check', '--lifecycle-check', [CompletionResultType]::ParameterName, 'Also call the illegal orders (Run before Init, Init twice, Run after Close, Close twice), each in a fresh process, and report refused/panicked/hung/accepted; the contract file''s [lifecycle_check] states what is expected (default: refused). Timeouts: Init/Run/Close 3s (--phase-timeout overrides), Run cancelled after 500ms')
            [CompletionResult]::new('--writable', '--writable', [CompletionResultType]::ParameterName, 'Do not make the file system read-only for the child')
            [CompletionResult]::new('--wasm', '--wasm', [CompletionResultType]::ParameterName, 'Build each PLUGIN (a source package directory) as a WASI module and run its lifecycle in an embedded interpreter (wasmi) in the sandboxed child; with --host HOST, also build and load it natively for HOST and compare each phase (result, time, slowdown)')
            [CompletionResult]::new('--trace', '--trace', [CompletionResultType]::ParameterName, 'Trace every child with eBPF (syscalls, files, network, processes, page allocations, Go panics) per phase; as root. Without BPF privileges: syscall counts from the seccomp listener')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;doctor' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--quick', '--quick', [CompletionResultType]::ParameterName, 'Skip the smoke test (building a plugin and a host and loading it)')
            [CompletionResult]::new('--offline', '--offline', [CompletionResultType]::ParameterName, 'Skip the smoke test (building a plugin and a host and loading it)')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;explain' {
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format; `table` for people, `json` for machines')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List every code with its severity and title')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;matrix' {
            [CompletionResult]::new('--file', '--file', [CompletionResultType]::ParameterName, 'Matrix definition (TOML); default: the built-in matrix/default.toml')
            [CompletionResult]::new('--only', '--only', [CompletionResultType]::ParameterName, 'Only these rows: ids, globs (`*`), `claim:ID` or `tag:TAG`; comma-separated, repeatable')
            [CompletionResult]::new('--skip', '--skip', [CompletionResultType]::ParameterName, 'Leave out these rows (same patterns as --only)')
            [CompletionResult]::new('--go', '--go', [CompletionResultType]::ParameterName, 'Go releases for rows that name none, e.g. 1.26.6,1.27.3 (each such row runs per release)')
            [CompletionResult]::new('-j', '-j', [CompletionResultType]::ParameterName, 'Rows run at the same time (default: the number of CPUs)')
            [CompletionResult]::new('--jobs', '--jobs', [CompletionResultType]::ParameterName, 'Rows run at the same time (default: the number of CPUs)')
            [CompletionResult]::new('--shard', '--shard', [CompletionResultType]::ParameterName, 'Run shard I of N: rows I, I+N, I+2N, ... of the selection (combine with `matrix merge`)')
            [CompletionResult]::new('--cache-dir', '--cache-dir', [CompletionResultType]::ParameterName, 'Cache of builds and results (default: <plugctl cache>/matrix)')
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('--fresh', '--fresh', [CompletionResultType]::ParameterName, 'Load again even when a result for the same artifacts is cached (builds stay cached)')
            [CompletionResult]::new('--no-engine', '--no-engine', [CompletionResultType]::ParameterName, 'Build plugins with `go build` directly, not through `plugctl build`''s engine')
            [CompletionResult]::new('--list', '--list', [CompletionResultType]::ParameterName, 'List the selected rows and their builds, run nothing')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plugctl;matrix;merge' {
            [CompletionResult]::new('--format', '--format', [CompletionResultType]::ParameterName, 'Output format')
            [CompletionResult]::new('--color', '--color', [CompletionResultType]::ParameterName, 'When to colour output: auto (terminal and no NO_COLOR), always, never')
            [CompletionResult]::new('-q', '-q', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('--quiet', '--quiet', [CompletionResultType]::ParameterName, 'Print only errors')
            [CompletionResult]::new('-v', '-v', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('--verbose', '--verbose', [CompletionResultType]::ParameterName, 'Log what plugctl does on stderr (commands run, steps); repeat for more')
            [CompletionResult]::new('-h', '-h', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('--help', '--help', [CompletionResultType]::ParameterName, 'Print help')
            [CompletionResult]::new('-V', '-V ', [CompletionResultType]::ParameterName, 'Print version')
            [CompletionResult]::new('--version', '--version', [CompletionResultType]::ParameterName, 'Print version')
            break
        }
        'plugctl;matrix;help' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plugctl;matrix;help;merge' {
            break
        }
        'plugctl;matrix;help;help' {
            break
        }
        'plugctl;help' {
            [CompletionResult]::new('inspect', 'inspect', [CompletionResultType]::ParameterValue, 'Read ELF shared objects and Go plugins (never executing them) and predict how they load')
            [CompletionResult]::new('build', 'build', [CompletionResultType]::ParameterValue, 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified')
            [CompletionResult]::new('contract', 'contract', [CompletionResultType]::ParameterValue, 'Read a Go plugin''s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks')
            [CompletionResult]::new('diff', 'diff', [CompletionResultType]::ParameterValue, 'Compare two artifacts'' build facts and say which difference explains the others')
            [CompletionResult]::new('load', 'load', [CompletionResultType]::ParameterValue, 'Load plugins for real in sandboxed child processes and report every layer')
            [CompletionResult]::new('doctor', 'doctor', [CompletionResultType]::ParameterValue, 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin')
            [CompletionResult]::new('explain', 'explain', [CompletionResultType]::ParameterValue, 'Explain a finding code: what it means, how it is detected, the runtime error, the fix')
            [CompletionResult]::new('matrix', 'matrix', [CompletionResultType]::ParameterValue, 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect')
            [CompletionResult]::new('help', 'help', [CompletionResultType]::ParameterValue, 'Print this message or the help of the given subcommand(s)')
            break
        }
        'plugctl;help;inspect' {
            break
        }
        'plugctl;help;build' {
            break
        }
        'plugctl;help;contract' {
            break
        }
        'plugctl;help;diff' {
            break
        }
        'plugctl;help;load' {
            break
        }
        'plugctl;help;doctor' {
            break
        }
        'plugctl;help;explain' {
            break
        }
        'plugctl;help;matrix' {
            [CompletionResult]::new('merge', 'merge', [CompletionResultType]::ParameterValue, 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report')
            break
        }
        'plugctl;help;matrix;merge' {
            break
        }
        'plugctl;help;help' {
            break
        }
    })

    $completions.Where{ $_.CompletionText -like "$wordToComplete*" } |
        Sort-Object -Property ListItemText
}
