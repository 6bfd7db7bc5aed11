
use builtin;
use str;

set edit:completion:arg-completer[plugctl] = {|@words|
    fn spaces {|n|
        builtin:repeat $n ' ' | str:join ''
    }
    fn cand {|text desc|
        edit:complex-candidate $text &display=$text' '(spaces (- 14 (wcswidth $text)))$desc
    }
    var command = 'plugctl'
    for word $words[1..-1] {
        if (str:has-prefix $word '-') {
            break
        }
        set command = $command';'$word
    }
    var completions = [
        &'plugctl'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand inspect 'Read ELF shared objects and Go plugins (never executing them) and predict how they load'
            cand build 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified'
            cand contract 'Read a Go plugin''s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks'
            cand diff 'Compare two artifacts'' build facts and say which difference explains the others'
            cand load 'Load plugins for real in sandboxed child processes and report every layer'
            cand doctor 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin'
            cand explain 'Explain a finding code: what it means, how it is detected, the runtime error, the fix'
            cand matrix 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plugctl;inspect'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --host 'The Go (or C) program that will load the artifacts; enables Go''s plugin checks'
            cand --format 'Output format; `table` for people, `json` for machines, `sarif` for code scanning'
            cand --fail-on 'Exit 1 when a finding of this severity or above is present'
            cand --ld-library-path 'LD_LIBRARY_PATH to assume (default: this process''s environment)'
            cand --sysroot 'The target''s root file system (an unpacked container image, a cross sysroot such as /usr/aarch64-linux-gnu): libraries, ld.so.cache and the interpreter are read inside DIR. HOST and ARTIFACT stay paths on this machine. The target''s architecture is the host''s (without a host: the first artifact''s, when --sysroot is given); a foreign host without --sysroot gets a Go-level prediction that assumes the target''s libraries are present'
            cand --go 'With --wasm-ready: build with this Go release (default: go.mod''s, or the newest installed ≥ 1.24)'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -r 'Walk directories given as ARTIFACT and inspect every ELF file below them'
            cand --recursive 'Walk directories given as ARTIFACT and inspect every ELF file below them'
            cand --symbols 'List undefined dynamic symbols and Go plugin exports in full'
            cand --tree 'Show the dependency tree with where each library was found and why'
            cand --lazy 'Predict for dlopen(RTLD_LAZY) instead of RTLD_NOW (only for C hosts; Go always uses RTLD_NOW)'
            cand --sequence 'One process opens every artifact, in the order given (or sorted, with -r): each sees what the earlier ones bound (static TLS, plugin paths, package hashes). The default with a Go `--host`: a program calling plugin.Open loads its plugin directory into one process, in an order'
            cand --each 'Each artifact in a fresh process of its own (of `--host`, or of a minimal C program). The default without a Go host: a directory of libraries is a set of independent candidates, not one process'
            cand --wasm-ready 'Treat each ARTIFACT as a plugin''s source package directory and report what blocks running it as WebAssembly (GOOS=wasip1): cgo, packages without wasip1 support, APIs wasip1 lacks or stubs, each with file, line and import chain'
            cand -h 'Print help (see more with ''--help'')'
            cand --help 'Print help (see more with ''--help'')'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;build'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand -o 'Where to write the plugin; the manifest goes to OUT.plugctl.json'
            cand --output 'Where to write the plugin; the manifest goes to OUT.plugctl.json'
            cand --host 'The Go program that will load the plugin: its toolchain, flags and modules are mirrored'
            cand --go 'Go release to build with (default: the host''s)'
            cand --goos 'Target OS (default: the host''s, else linux)'
            cand --goarch 'Target architecture (default: the host''s, else this machine''s)'
            cand --gcflags '-gcflags value'
            cand --tags '-tags value'
            cand --ldflags '-ldflags value (never mirrored from a host: link flags do not change package hashes)'
            cand --env 'Extra build environment, e.g. GOAMD64=v3 or GOEXPERIMENT=... (repeatable)'
            cand --replace 'The host''s source of a shared module: a directory or PATH@VERSION (repeatable)'
            cand --host-src 'The host''s module directory: the host''s relative replacements resolve against it'
            cand --load-timeout 'Seconds the --load harness may take'
            cand --format 'Output format; `table` for people, `json` for machines (the manifest)'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --trimpath 'Build with -trimpath (mirrored from the host when it has it)'
            cand --race 'Build with -race'
            cand --msan 'Build with -msan'
            cand --asan 'Build with -asan'
            cand --write 'Write the alignment into the plugin''s go.mod and go.sum (default: a temporary copy)'
            cand --load 'Also load the plugin for real, in a harness built like the host'
            cand --verify-repro 'Rebuild in another directory with an empty build cache and compare the SHA-256'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;contract'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --symbol 'Show only this exported symbol (and the structs it reaches)'
            cand --schema 'Emit JSON Schema for a struct: a type (`main.Config`), a type name (`Config`) or an exported variable of that type'
            cand --config 'Validate this JSON config against the --schema struct; exit 1 on any violation'
            cand --format 'Output format; `table` for people, `json` for machines (a schema is always JSON)'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;diff'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --format 'Output format; `table` for people, `json` for machines'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;load'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --host 'The Go program that will load them: the harness mirrors its toolchain and flags'
            cand --go 'Build the harness with this Go release (with the plugin''s flags)'
            cand --env 'Pass NAME=VALUE (or NAME, taking plugctl''s own value) to the child; repeatable. The child''s environment holds nothing else. Values of secret-looking names are masked'
            cand --env-file 'Read variables from a dotenv-style file; repeatable'
            cand --expect 'Expected export and Go type, e.g. ''Handler=func(context.Context) error''; repeatable'
            cand --contract 'A contract file (TOML: [expect] NAME = "TYPE", [lifecycle] init/run/close/phase_timeout)'
            cand --init 'Name of the init function ("" for none)'
            cand --run 'Name of the run function ("" for none)'
            cand --close 'Name of the close function ("" for none)'
            cand --phase-timeout 'Time each lifecycle phase may take (default 10s)'
            cand --run-for 'Cancel Run''s context after this long (default: never)'
            cand --timeout 'Wall-clock limit per child process'
            cand --reload 'Open N rebuilt copies one after another in one host (needs --source)'
            cand --source 'The plugin''s main package directory, for --reload'
            cand --memory 'Memory limit (cgroup memory controller; RLIMIT_DATA as a backstop), e.g. 256M'
            cand --cpu-time 'CPU time limit (RLIMIT_CPU), e.g. 10s'
            cand --cpus 'CPU bandwidth in CPUs (cgroup cpu controller), e.g. 0.5'
            cand --max-pids 'Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC)'
            cand --max-threads 'Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC)'
            cand --open-files 'Maximum open files (RLIMIT_NOFILE)'
            cand --network 'Network for the child: `none` (a new, empty network namespace) or `host`'
            cand --seccomp '`learn [OUT.json]` (default seccomp-profile.json) or `enforce PROFILE.json`'
            cand --sandbox '`native` (namespaces, cgroups, rlimits, seccomp) or `gvisor` (runsc, when installed)'
            cand --fuel 'With --wasm: fuel per call (the deterministic CPU limit, about one unit per instruction; default 50000000000)'
            cand --allow-dir 'With --wasm: preopen DIR read-only for the module (default: no file system); repeatable'
            cand --trace-out 'Write the trace as a Chrome Trace Event / Perfetto timeline (implies --trace)'
            cand --format 'Output format'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --lazy 'dlopen with RTLD_LAZY in the loader layer (Go always uses RTLD_NOW)'
            cand --loader-only 'Only the loader layer (the C shim), no Go harness'
            cand --env-after-open 'Set the variables after plugin.Open instead of before, and report whether the plugin saw them'
            cand --lifecycle-check 'Also call the illegal orders (Run before Init, Init twice, Run after Close, Close twice), each in a fresh process, and report refused/panicked/hung/accepted; the contract file''s [lifecycle_check] states what is expected (default: refused). Timeouts: Init/Run/Close 3s (--phase-timeout overrides), Run cancelled after 500ms'
            cand --writable 'Do not make the file system read-only for the child'
            cand --wasm 'Build each PLUGIN (a source package directory) as a WASI module and run its lifecycle in an embedded interpreter (wasmi) in the sandboxed child; with --host HOST, also build and load it natively for HOST and compare each phase (result, time, slowdown)'
            cand --trace 'Trace every child with eBPF (syscalls, files, network, processes, page allocations, Go panics) per phase; as root. Without BPF privileges: syscall counts from the seccomp listener'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;doctor'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --format 'Output format; `table` for people, `json` for machines'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --quick 'Skip the smoke test (building a plugin and a host and loading it)'
            cand --offline 'Skip the smoke test (building a plugin and a host and loading it)'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;explain'= {
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --format 'Output format; `table` for people, `json` for machines'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --list 'List every code with its severity and title'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;matrix'= {
            cand --file 'Matrix definition (TOML); default: the built-in matrix/default.toml'
            cand --only 'Only these rows: ids, globs (`*`), `claim:ID` or `tag:TAG`; comma-separated, repeatable'
            cand --skip 'Leave out these rows (same patterns as --only)'
            cand --go 'Go releases for rows that name none, e.g. 1.26.6,1.27.3 (each such row runs per release)'
            cand -j 'Rows run at the same time (default: the number of CPUs)'
            cand --jobs 'Rows run at the same time (default: the number of CPUs)'
            cand --shard 'Run shard I of N: rows I, I+N, I+2N, ... of the selection (combine with `matrix merge`)'
            cand --cache-dir 'Cache of builds and results (default: <plugctl cache>/matrix)'
            cand --format 'Output format'
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand --fresh 'Load again even when a result for the same artifacts is cached (builds stay cached)'
            cand --no-engine 'Build plugins with `go build` directly, not through `plugctl build`''s engine'
            cand --list 'List the selected rows and their builds, run nothing'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
            cand merge 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plugctl;matrix;merge'= {
            cand --format 'Output format'
            cand --color 'When to colour output: auto (terminal and no NO_COLOR), always, never'
            cand -q 'Print only errors'
            cand --quiet 'Print only errors'
            cand -v 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand --verbose 'Log what plugctl does on stderr (commands run, steps); repeat for more'
            cand -h 'Print help'
            cand --help 'Print help'
            cand -V 'Print version'
            cand --version 'Print version'
        }
        &'plugctl;matrix;help'= {
            cand merge 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plugctl;matrix;help;merge'= {
        }
        &'plugctl;matrix;help;help'= {
        }
        &'plugctl;help'= {
            cand inspect 'Read ELF shared objects and Go plugins (never executing them) and predict how they load'
            cand build 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified'
            cand contract 'Read a Go plugin''s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks'
            cand diff 'Compare two artifacts'' build facts and say which difference explains the others'
            cand load 'Load plugins for real in sandboxed child processes and report every layer'
            cand doctor 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin'
            cand explain 'Explain a finding code: what it means, how it is detected, the runtime error, the fix'
            cand matrix 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect'
            cand help 'Print this message or the help of the given subcommand(s)'
        }
        &'plugctl;help;inspect'= {
        }
        &'plugctl;help;build'= {
        }
        &'plugctl;help;contract'= {
        }
        &'plugctl;help;diff'= {
        }
        &'plugctl;help;load'= {
        }
        &'plugctl;help;doctor'= {
        }
        &'plugctl;help;explain'= {
        }
        &'plugctl;help;matrix'= {
            cand merge 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
        }
        &'plugctl;help;matrix;merge'= {
        }
        &'plugctl;help;help'= {
        }
    ]
    $completions[$command]
}
