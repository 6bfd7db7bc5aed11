# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_plugctl_global_optspecs
    string join \n color= q/quiet v/verbose h/help V/version
end

function __fish_plugctl_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_plugctl_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_plugctl_using_subcommand
    set -l cmd (__fish_plugctl_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c plugctl -n "__fish_plugctl_needs_command" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_needs_command" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_needs_command" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_needs_command" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_needs_command" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "inspect" -d 'Read ELF shared objects and Go plugins (never executing them) and predict how they load'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "build" -d 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "contract" -d 'Read a Go plugin\'s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "diff" -d 'Compare two artifacts\' build facts and say which difference explains the others'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "load" -d 'Load plugins for real in sandboxed child processes and report every layer'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "doctor" -d 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "explain" -d 'Explain a finding code: what it means, how it is detected, the runtime error, the fix'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "matrix" -d 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect'
complete -c plugctl -n "__fish_plugctl_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l host -d 'The Go (or C) program that will load the artifacts; enables Go\'s plugin checks' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l format -d 'Output format; `table` for people, `json` for machines, `sarif` for code scanning' -r -f -a "table\t''
json\t''
jsonl\t'One JSON object per artifact, printed as soon as it is ready, then a summary line'
sarif\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l fail-on -d 'Exit 1 when a finding of this severity or above is present' -r -f -a "error\t''
warning\t''
info\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l ld-library-path -d 'LD_LIBRARY_PATH to assume (default: this process\'s environment)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l sysroot -d 'The target\'s root file system (an unpacked container image, a cross sysroot such as /usr/aarch64-linux-gnu): libraries, ld.so.cache and the interpreter are read inside DIR. HOST and ARTIFACT stay paths on this machine. The target\'s architecture is the host\'s (without a host: the first artifact\'s, when --sysroot is given); a foreign host without --sysroot gets a Go-level prediction that assumes the target\'s libraries are present' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l go -d 'With --wasm-ready: build with this Go release (default: go.mod\'s, or the newest installed ≥ 1.24)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -s r -l recursive -d 'Walk directories given as ARTIFACT and inspect every ELF file below them'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l symbols -d 'List undefined dynamic symbols and Go plugin exports in full'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l tree -d 'Show the dependency tree with where each library was found and why'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l lazy -d 'Predict for dlopen(RTLD_LAZY) instead of RTLD_NOW (only for C hosts; Go always uses RTLD_NOW)'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l sequence -d 'One process opens every artifact, in the order given (or sorted, with -r): each sees what the earlier ones bound (static TLS, plugin paths, package hashes). The default with a Go `--host`: a program calling plugin.Open loads its plugin directory into one process, in an order'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l each -d 'Each artifact in a fresh process of its own (of `--host`, or of a minimal C program). The default without a Go host: a directory of libraries is a set of independent candidates, not one process'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -l wasm-ready -d 'Treat each ARTIFACT as a plugin\'s source package directory and report what blocks running it as WebAssembly (GOOS=wasip1): cgo, packages without wasip1 support, APIs wasip1 lacks or stubs, each with file, line and import chain'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c plugctl -n "__fish_plugctl_using_subcommand inspect" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -s o -l output -d 'Where to write the plugin; the manifest goes to OUT.plugctl.json' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l host -d 'The Go program that will load the plugin: its toolchain, flags and modules are mirrored' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l go -d 'Go release to build with (default: the host\'s)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l goos -d 'Target OS (default: the host\'s, else linux)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l goarch -d 'Target architecture (default: the host\'s, else this machine\'s)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l gcflags -d '-gcflags value' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l tags -d '-tags value' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l ldflags -d '-ldflags value (never mirrored from a host: link flags do not change package hashes)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l env -d 'Extra build environment, e.g. GOAMD64=v3 or GOEXPERIMENT=... (repeatable)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l replace -d 'The host\'s source of a shared module: a directory or PATH@VERSION (repeatable)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l host-src -d 'The host\'s module directory: the host\'s relative replacements resolve against it' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l load-timeout -d 'Seconds the --load harness may take' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l format -d 'Output format; `table` for people, `json` for machines (the manifest)' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l trimpath -d 'Build with -trimpath (mirrored from the host when it has it)'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l race -d 'Build with -race'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l msan -d 'Build with -msan'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l asan -d 'Build with -asan'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l write -d 'Write the alignment into the plugin\'s go.mod and go.sum (default: a temporary copy)'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l load -d 'Also load the plugin for real, in a harness built like the host'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -l verify-repro -d 'Rebuild in another directory with an empty build cache and compare the SHA-256'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand build" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -l symbol -d 'Show only this exported symbol (and the structs it reaches)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -l schema -d 'Emit JSON Schema for a struct: a type (`main.Config`), a type name (`Config`) or an exported variable of that type' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -l config -d 'Validate this JSON config against the --schema struct; exit 1 on any violation' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -l format -d 'Output format; `table` for people, `json` for machines (a schema is always JSON)' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand contract" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -l format -d 'Output format; `table` for people, `json` for machines' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand diff" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l host -d 'The Go program that will load them: the harness mirrors its toolchain and flags' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l go -d 'Build the harness with this Go release (with the plugin\'s flags)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l env -d 'Pass NAME=VALUE (or NAME, taking plugctl\'s own value) to the child; repeatable. The child\'s environment holds nothing else. Values of secret-looking names are masked' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l env-file -d 'Read variables from a dotenv-style file; repeatable' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l expect -d 'Expected export and Go type, e.g. \'Handler=func(context.Context) error\'; repeatable' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l contract -d 'A contract file (TOML: [expect] NAME = "TYPE", [lifecycle] init/run/close/phase_timeout)' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l init -d 'Name of the init function ("" for none)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l run -d 'Name of the run function ("" for none)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l close -d 'Name of the close function ("" for none)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l phase-timeout -d 'Time each lifecycle phase may take (default 10s)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l run-for -d 'Cancel Run\'s context after this long (default: never)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l timeout -d 'Wall-clock limit per child process' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l reload -d 'Open N rebuilt copies one after another in one host (needs --source)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l source -d 'The plugin\'s main package directory, for --reload' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l memory -d 'Memory limit (cgroup memory controller; RLIMIT_DATA as a backstop), e.g. 256M' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l cpu-time -d 'CPU time limit (RLIMIT_CPU), e.g. 10s' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l cpus -d 'CPU bandwidth in CPUs (cgroup cpu controller), e.g. 0.5' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l max-pids -l max-threads -d 'Maximum tasks, threads included (pids cgroup; RLIMIT_NPROC)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l open-files -d 'Maximum open files (RLIMIT_NOFILE)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l network -d 'Network for the child: `none` (a new, empty network namespace) or `host`' -r -f -a "none\t''
host\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l seccomp -d '`learn [OUT.json]` (default seccomp-profile.json) or `enforce PROFILE.json`' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l sandbox -d '`native` (namespaces, cgroups, rlimits, seccomp) or `gvisor` (runsc, when installed)' -r -f -a "native\t''
gvisor\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l fuel -d 'With --wasm: fuel per call (the deterministic CPU limit, about one unit per instruction; default 50000000000)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l allow-dir -d 'With --wasm: preopen DIR read-only for the module (default: no file system); repeatable' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l trace-out -d 'Write the trace as a Chrome Trace Event / Perfetto timeline (implies --trace)' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l format -d 'Output format' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l lazy -d 'dlopen with RTLD_LAZY in the loader layer (Go always uses RTLD_NOW)'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l loader-only -d 'Only the loader layer (the C shim), no Go harness'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l env-after-open -d 'Set the variables after plugin.Open instead of before, and report whether the plugin saw them'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l lifecycle-check -d 'Also call the illegal orders (Run before Init, Init twice, Run after Close, Close twice), each in a fresh process, and report refused/panicked/hung/accepted; the contract file\'s [lifecycle_check] states what is expected (default: refused). Timeouts: Init/Run/Close 3s (--phase-timeout overrides), Run cancelled after 500ms'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l writable -d 'Do not make the file system read-only for the child'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l wasm -d 'Build each PLUGIN (a source package directory) as a WASI module and run its lifecycle in an embedded interpreter (wasmi) in the sandboxed child; with --host HOST, also build and load it natively for HOST and compare each phase (result, time, slowdown)'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -l trace -d 'Trace every child with eBPF (syscalls, files, network, processes, page allocations, Go panics) per phase; as root. Without BPF privileges: syscall counts from the seccomp listener'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand load" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -l format -d 'Output format; `table` for people, `json` for machines' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -l quick -l offline -d 'Skip the smoke test (building a plugin and a host and loading it)'
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand doctor" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -l format -d 'Output format; `table` for people, `json` for machines' -r -f -a "table\t''
json\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -l list -d 'List every code with its severity and title'
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand explain" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l file -d 'Matrix definition (TOML); default: the built-in matrix/default.toml' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l only -d 'Only these rows: ids, globs (`*`), `claim:ID` or `tag:TAG`; comma-separated, repeatable' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l skip -d 'Leave out these rows (same patterns as --only)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l go -d 'Go releases for rows that name none, e.g. 1.26.6,1.27.3 (each such row runs per release)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -s j -l jobs -d 'Rows run at the same time (default: the number of CPUs)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l shard -d 'Run shard I of N: rows I, I+N, I+2N, ... of the selection (combine with `matrix merge`)' -r
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l cache-dir -d 'Cache of builds and results (default: <plugctl cache>/matrix)' -r -F
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l format -d 'Output format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l fresh -d 'Load again even when a result for the same artifacts is cached (builds stay cached)'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l no-engine -d 'Build plugins with `go build` directly, not through `plugctl build`\'s engine'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -l list -d 'List the selected rows and their builds, run nothing'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -f -a "merge" -d 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and not __fish_seen_subcommand_from merge help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -l format -d 'Output format' -r -f -a "table\t''
json\t''
markdown\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -l color -d 'When to colour output: auto (terminal and no NO_COLOR), always, never' -r -f -a "auto\t''
always\t''
never\t''"
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -s q -l quiet -d 'Print only errors'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -s v -l verbose -d 'Log what plugctl does on stderr (commands run, steps); repeat for more'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -s h -l help -d 'Print help'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from merge" -s V -l version -d 'Print version'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from help" -f -a "merge" -d 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
complete -c plugctl -n "__fish_plugctl_using_subcommand matrix; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "inspect" -d 'Read ELF shared objects and Go plugins (never executing them) and predict how they load'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "build" -d 'Build a Go plugin that loads into a host: same toolchain, flags and shared modules; verified'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "contract" -d 'Read a Go plugin\'s exported API statically: types, struct tags, fingerprints, JSON Schema, config checks'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "diff" -d 'Compare two artifacts\' build facts and say which difference explains the others'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "load" -d 'Load plugins for real in sandboxed child processes and report every layer'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "doctor" -d 'Check this machine: Go toolchains, cgo, glibc, kernel features; build and load a plugin'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "explain" -d 'Explain a finding code: what it means, how it is detected, the runtime error, the fix'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "matrix" -d 'Test claims about plugin loading: build real hosts and plugins per row, load them, compare with inspect'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and not __fish_seen_subcommand_from inspect build contract diff load doctor explain matrix help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c plugctl -n "__fish_plugctl_using_subcommand help; and __fish_seen_subcommand_from matrix" -f -a "merge" -d 'Combine shard reports (`plugctl matrix --shard I/N --format json`) into one report'
