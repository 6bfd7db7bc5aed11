// plugctl's Go host harness (src/runtime/harness/main.go in plugctl; embedded and
// built by plugctl with the toolchain and hash-relevant flags of the plugin or host).
//
// It opens plugins with plugin.Open as a Go host does, looks up exported symbols and
// reports their Go types (reflect.Type.String), runs the lifecycle functions with
// per-phase timeouts (reporting errors, panics with their value and stack head, and
// goroutine counts), checks whether the plugin saw the user's environment variables,
// and, for hot reload, opens more copies in the same process and measures what stays.
//
// It imports only the standard library, so the packages it shares with a plugin are
// std packages, whose hashes match when toolchain and flags match. Input: a JSON spec
// on stdin. Output: one JSON object per line on the report fd (--report-fd N).
// Written for Go 1.16 and later.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"plugin"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"
)

type export struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
}

type pluginSpec struct {
	Path    string   `json:"path"`
	Exports []export `json:"exports"`
	// Skip: not opened (a C object that a C-less host would not open either).
	Skip bool `json:"skip"`
}

type expectation struct {
	Name string  `json:"name"`
	Type *string `json:"type"`
}

type spec struct {
	Plugins        []pluginSpec  `json:"plugins"`
	Expect         []expectation `json:"expect"`
	Init           string        `json:"init"`
	Run            string        `json:"run"`
	Close          string        `json:"close"`
	PhaseTimeoutMs int64         `json:"phase_timeout_ms"`
	RunForMs       int64         `json:"run_for_ms"`
	EnvAfterOpen   [][2]string   `json:"env_after_open"`
	Watch          []string      `json:"watch"`
	Reload         []pluginSpec  `json:"reload"`
	SettleMs       int64         `json:"settle_ms"`
	// Per-phase timeouts (0: PhaseTimeoutMs).
	InitTimeoutMs  int64 `json:"init_timeout_ms"`
	RunTimeoutMs   int64 `json:"run_timeout_ms"`
	CloseTimeoutMs int64 `json:"close_timeout_ms"`
	// Sequence ("init", "run", "close" in any order, e.g. run before init): called
	// instead of the normal lifecycle, each call reported as a phase event with its
	// step; plugctl's lifecycle check runs each illegal order in a fresh process.
	Sequence []string `json:"sequence"`
}

// timeoutFor is the timeout of one phase.
func timeoutFor(s *spec, name string) time.Duration {
	ms := map[string]int64{"init": s.InitTimeoutMs, "run": s.RunTimeoutMs, "close": s.CloseTimeoutMs}[name]
	if ms <= 0 {
		ms = s.PhaseTimeoutMs
	}
	return time.Duration(ms) * time.Millisecond
}

// sequence calls the lifecycle functions in the order given and stops after the first
// call that does not return normally (the process may hold a hung goroutine then).
func sequence(p *plugin.Plugin, index int, s *spec) {
	symbols := map[string]string{"init": s.Init, "run": s.Run, "close": s.Close}
	for _, name := range s.Sequence {
		var runFor time.Duration
		if name == "run" {
			runFor = time.Duration(s.RunForMs) * time.Millisecond
		}
		if st := phase(p, index, name, symbols[name], timeoutFor(s, name), runFor); st != "ok" && st != "error" {
			return
		}
	}
}

var report *os.File

func emit(ev map[string]interface{}) {
	b, err := json.Marshal(ev)
	if err != nil {
		b, _ = json.Marshal(map[string]interface{}{"ev": "unencodable", "error": err.Error()})
	}
	report.Write(append(b, '\n'))
}

func rssKB() int64 {
	data, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return -1
	}
	fields := strings.Fields(string(data))
	if len(fields) < 2 {
		return -1
	}
	pages, _ := strconv.ParseInt(fields[1], 10, 64)
	return pages * int64(os.Getpagesize()) / 1024
}

func ms(d time.Duration) float64 {
	return float64(d.Microseconds()) / 1000
}

var ctxType = reflect.TypeOf((*context.Context)(nil)).Elem()
var errType = reflect.TypeOf((*error)(nil)).Elem()

// safeString formats v, surviving a String or Error method that panics.
func safeString(v interface{}, verb string) (s string) {
	defer func() {
		if r := recover(); r != nil {
			s = fmt.Sprintf("(formatting panicked: %v)", r)
		}
	}()
	s = fmt.Sprintf(verb, v)
	if len(s) > 1<<20 {
		s = s[:1<<20]
	}
	return s
}

// stackHead keeps the frames below the panic: where the plugin panicked.
func stackHead(stack []byte) []string {
	lines := strings.Split(strings.TrimSpace(string(stack)), "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(l, "panic(") {
			start = i + 2
		}
	}
	var frames []string
	for i := start; i+1 < len(lines) && len(frames) < 4; i += 2 {
		fn := strings.TrimSpace(lines[i])
		if strings.HasPrefix(fn, "reflect.") {
			break
		}
		at := strings.TrimSpace(lines[i+1])
		if j := strings.LastIndex(at, " +0x"); j > 0 {
			at = at[:j]
		}
		frames = append(frames, fn+" at "+at)
	}
	return frames
}

type outcome struct {
	err      error
	panicked bool
	value    string
	stack    []string
}

func phase(p *plugin.Plugin, index int, name, symbol string, timeout, runFor time.Duration) string {
	ev := map[string]interface{}{"ev": "phase", "index": index, "phase": name, "symbol": symbol}
	sym, err := p.Lookup(symbol)
	if err != nil {
		ev["status"] = "missing"
		emit(ev)
		return "missing"
	}
	fv := reflect.ValueOf(sym)
	if fv.Kind() == reflect.Ptr && !fv.IsNil() && fv.Elem().Kind() == reflect.Func {
		fv = fv.Elem() // var Init = func(...) ...
	}
	ev["type"] = fv.Type().String()
	bad := func(why string) string {
		ev["status"] = "bad-signature"
		ev["error"] = why
		emit(ev)
		return "bad-signature"
	}
	if fv.Kind() != reflect.Func {
		return bad(symbol + " is not a function")
	}
	if fv.IsNil() {
		return bad(symbol + " is a nil function")
	}
	ft := fv.Type()
	var args []reflect.Value
	ctx, cancel := context.WithCancel(context.Background())
	switch {
	case ft.NumIn() == 0:
	case ft.NumIn() == 1 && ft.In(0) == ctxType:
		args = []reflect.Value{reflect.ValueOf(ctx)}
	default:
		cancel()
		return bad("a lifecycle function takes nothing or a context.Context")
	}
	if ft.NumOut() > 1 || (ft.NumOut() == 1 && ft.Out(0) != errType) {
		cancel()
		return bad("a lifecycle function returns nothing or an error")
	}
	if runFor > 0 {
		time.AfterFunc(runFor, cancel)
	}
	before := runtime.NumGoroutine()
	emit(map[string]interface{}{"ev": "phase-begin", "index": index, "phase": name, "symbol": symbol})
	done := make(chan outcome, 1)
	start := time.Now()
	go func() {
		defer func() {
			if r := recover(); r != nil {
				done <- outcome{panicked: true, value: safeString(r, "%v"), stack: stackHead(debug.Stack())}
			}
		}()
		out := fv.Call(args)
		var e error
		if len(out) == 1 && !out[0].IsNil() {
			e = out[0].Interface().(error)
		}
		done <- outcome{err: e}
	}()
	timer := time.NewTimer(timeout)
	status := "ok"
	select {
	case o := <-done:
		timer.Stop()
		switch {
		case o.panicked:
			status = "panic"
			ev["panic"] = o.value
			ev["stack"] = o.stack
		case o.err != nil:
			status = "error"
			ev["error"] = safeString(o.err, "%v")
		}
		ev["ms"] = ms(time.Since(start))
		cancel()
		// Let the phase goroutine finish exiting before counting.
		time.Sleep(2 * time.Millisecond)
	case <-timer.C:
		ev["ms"] = ms(time.Since(start))
		status = "timeout"
		ev["error"] = fmt.Sprintf("%s did not return within %v; its goroutine keeps running (Go cannot stop it)", symbol, timeout)
		cancel()
	}
	ev["status"] = status
	ev["goroutines_before"] = before
	ev["goroutines_after"] = runtime.NumGoroutine()
	emit(ev)
	return status
}

func envValue(s *spec, name string) string {
	for _, kv := range s.EnvAfterOpen {
		if kv[0] == name {
			return kv[1]
		}
	}
	return os.Getenv(name)
}

// envCheck: which exported variables hold each watched variable's value.
func envCheck(p *plugin.Plugin, index int, ps pluginSpec, s *spec, when string) {
	for _, name := range s.Watch {
		value := envValue(s, name)
		var seen []string
		if value != "" {
			for _, x := range ps.Exports {
				if x.Kind == "func" {
					continue
				}
				sym, err := p.Lookup(x.Name)
				if err != nil {
					continue
				}
				v := reflect.ValueOf(sym)
				if v.Kind() != reflect.Ptr || v.IsNil() || v.Elem().Kind() == reflect.Func {
					continue
				}
				if strings.Contains(safeString(v.Elem().Interface(), "%+v"), value) {
					seen = append(seen, x.Name)
				}
			}
		}
		emit(map[string]interface{}{"ev": "env", "index": index, "when": when, "name": name,
			"in_env": os.Getenv(name) != "", "seen_in": seen})
	}
}

func contract(p *plugin.Plugin, index int, ps pluginSpec, s *spec) {
	checked := map[string]bool{}
	lookup := func(name string, expected *string, role string) {
		checked[name] = true
		ev := map[string]interface{}{"ev": "lookup", "index": index, "name": name, "role": role}
		if expected != nil {
			ev["expected"] = *expected
		}
		sym, err := p.Lookup(name)
		if err != nil {
			ev["ok"] = false
			ev["error"] = err.Error()
		} else {
			ev["ok"] = true
			ev["type"] = reflect.TypeOf(sym).String()
		}
		emit(ev)
	}
	for _, e := range s.Expect {
		lookup(e.Name, e.Type, "expect")
	}
	for _, x := range ps.Exports {
		if !checked[x.Name] {
			lookup(x.Name, nil, "export")
		}
	}
}

func open(index int, ps pluginSpec) *plugin.Plugin {
	emit(map[string]interface{}{"ev": "open-begin", "index": index, "path": ps.Path})
	g0 := runtime.NumGoroutine()
	start := time.Now()
	p, err := plugin.Open(ps.Path)
	ev := map[string]interface{}{"ev": "open", "index": index, "ms": ms(time.Since(start)),
		"goroutines_before": g0, "goroutines": runtime.NumGoroutine(), "rss_kb": rssKB(), "ok": err == nil}
	if err != nil {
		ev["error"] = err.Error()
	}
	emit(ev)
	return p
}

func lifecycle(p *plugin.Plugin, index int, ps pluginSpec, s *spec) {
	initOK := true
	if s.Init != "" {
		st := phase(p, index, "init", s.Init, timeoutFor(s, "init"), 0)
		initOK = st == "ok" || st == "missing"
	}
	envCheck(p, index, ps, s, "after-init")
	if s.Run != "" {
		if initOK {
			phase(p, index, "run", s.Run, timeoutFor(s, "run"), time.Duration(s.RunForMs)*time.Millisecond)
		} else {
			emit(map[string]interface{}{"ev": "phase", "index": index, "phase": "run", "symbol": s.Run,
				"status": "skipped", "error": "Init did not succeed"})
		}
	}
	if s.Close != "" {
		phase(p, index, "close", s.Close, timeoutFor(s, "close"), 0)
	}
}

func settle(s *spec) {
	runtime.GC()
	time.Sleep(time.Duration(s.SettleMs) * time.Millisecond)
	runtime.GC()
}

func measure(index, copyNo int, path string) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	emit(map[string]interface{}{"ev": "reload", "index": index, "copy": copyNo, "path": path,
		"goroutines": runtime.NumGoroutine(), "rss_kb": rssKB(), "heap_kb": m.HeapAlloc / 1024,
		"sys_kb": m.Sys / 1024})
}

func main() {
	fd := 1
	for i, a := range os.Args {
		if a == "--report-fd" && i+1 < len(os.Args) {
			fd, _ = strconv.Atoi(os.Args[i+1])
		}
	}
	report = os.NewFile(uintptr(fd), "report")
	var s spec
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		emit(map[string]interface{}{"ev": "error", "error": "reading the spec: " + err.Error()})
		os.Exit(2)
	}
	if s.PhaseTimeoutMs <= 0 {
		s.PhaseTimeoutMs = 10000
	}
	emit(map[string]interface{}{"ev": "start", "go": runtime.Version(), "pid": os.Getpid(),
		"goroutines": runtime.NumGoroutine(), "rss_kb": rssKB()})
	envSet := false
	setEnv := func() {
		if envSet || len(s.EnvAfterOpen) == 0 {
			return
		}
		envSet = true
		for _, kv := range s.EnvAfterOpen {
			os.Setenv(kv[0], kv[1])
		}
		emit(map[string]interface{}{"ev": "env-set", "after": "plugin.Open"})
	}
	for i, ps := range s.Plugins {
		if ps.Skip {
			continue
		}
		p := open(i, ps)
		setEnv()
		if p == nil {
			continue
		}
		if len(s.Sequence) > 0 {
			sequence(p, i, &s)
			continue
		}
		envCheck(p, i, ps, &s, "after-open")
		contract(p, i, ps, &s)
		lifecycle(p, i, ps, &s)
	}
	if len(s.Reload) > 0 {
		settle(&s)
		measure(0, 0, s.Plugins[0].Path)
		for j, ps := range s.Reload {
			index := len(s.Plugins) + j
			p := open(index, ps)
			if p != nil {
				lifecycle(p, index, ps, &s)
			}
			settle(&s)
			measure(index, j+1, ps.Path)
		}
	}
	emit(map[string]interface{}{"ev": "done", "goroutines": runtime.NumGoroutine(), "rss_kb": rssKB()})
	os.Exit(0)
}
