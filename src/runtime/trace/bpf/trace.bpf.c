// SPDX-License-Identifier: GPL-2.0
/* plugctl's eBPF tracer for `plugctl load --trace`.
 *
 * Everything is filtered by the cgroup v2 id of the sandboxed child (`target_cgroup`,
 * written by plugctl before the child starts): one child's whole process tree, never
 * the rest of the machine. Events go to one BPF_MAP_TYPE_RINGBUF; a full ring counts in
 * `dropped`. The Go uprobes read the Go register ABI (amd64): RAX/RBX hold the first
 * argument, R14 the current goroutine.
 *
 * Regenerate the committed object with `src/runtime/trace/bpf/build.sh` (clang);
 * tests/trace_bpf_object.rs fails when it is stale.
 */
#include "plugctl_bpf.h"

char LICENSE[] SEC("license") = "GPL";

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4 << 20);
} events SEC(".maps");

/* 0: the cgroup v2 id to trace; 1: offset of goid in runtime.g (0: unknown). */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 2);
    __type(key, __u32);
    __type(value, __u64);
} config SEC(".maps");

/* 0: events dropped because the ring was full. */
struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, __u64);
} dropped SEC(".maps");

/* A system call with something to read, noted at its entry and read at its exit (the
 * kernel has faulted the memory in by then; a path in a page not yet touched cannot be
 * read at entry). */
struct pending {
    __s64 nr;
    __u64 ptr;
    __u32 len;
    __u32 is_str;
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 8192);
    __type(key, __u32);
    __type(value, struct pending);
} inflight SEC(".maps");

static __always_inline int traced(void) {
    __u32 k = 0;
    __u64 *want = bpf_map_lookup_elem(&config, &k);
    return want && *want && bpf_get_current_cgroup_id() == *want;
}

static __always_inline void count_drop(void) {
    __u32 k = 0;
    __u64 *d = bpf_map_lookup_elem(&dropped, &k);
    if (d)
        __sync_fetch_and_add(d, 1);
}

static __always_inline void fill(struct head *h, __u32 kind) {
    __u64 id = bpf_get_current_pid_tgid();
    h->ts = bpf_ktime_get_ns();
    h->kind = kind;
    h->tgid = id >> 32;
    h->tid = (__u32)id;
}

/* What to read at the entry of a call: a path, a socket address, a report line. */
static __always_inline int wanted(__s64 nr, const unsigned long *args, const void **ptr, __u32 *len, int *is_str) {
    *is_str = 1;
    switch (nr) {
    case NR_open: case NR_stat: case NR_lstat: case NR_access: case NR_execve:
    case NR_readlink: case NR_chdir: case NR_truncate: case NR_unlink: case NR_mkdir:
        *ptr = (const void *)args[0];
        return 1;
    case NR_openat: case NR_openat2: case NR_newfstatat: case NR_statx: case NR_faccessat:
    case NR_faccessat2: case NR_execveat: case NR_readlinkat: case NR_unlinkat: case NR_mkdirat:
        *ptr = (const void *)args[1];
        return 1;
    case NR_connect: case NR_bind:
        *is_str = 0;
        *ptr = (const void *)args[1];
        *len = args[2] < SOCKADDR_LEN ? args[2] : SOCKADDR_LEN;
        return *ptr != 0;
    case NR_sendto:
        *is_str = 0;
        *ptr = (const void *)args[4];
        *len = args[5] < SOCKADDR_LEN ? args[5] : SOCKADDR_LEN;
        return *ptr != 0 && args[5] != 0;
    case NR_write:
        /* The child's report lines (fd 3): the phase boundaries, at kernel time. */
        if (args[0] != REPORT_FD)
            return 0;
        *is_str = 0;
        *ptr = (const void *)args[1];
        *len = args[2] < REPORT_LEN ? args[2] : REPORT_LEN;
        return 1;
    }
    return 0;
}

static __always_inline struct data_event *data_event(__u32 kind, __s64 nr) {
    struct data_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count_drop();
        return 0;
    }
    fill(&e->h, kind);
    e->nr = nr;
    e->ret = 0;
    e->len = 0;
    return e;
}

static __always_inline void read_into(struct data_event *e, __u64 ptr, __u32 len, int is_str) {
    if (is_str) {
        long n = bpf_probe_read_user_str(e->data, DATA_LEN, (const void *)ptr);
        e->len = n > 0 ? n - 1 : 0;
    } else {
        len &= DATA_LEN - 1;
        e->len = bpf_probe_read_user(e->data, len, (const void *)ptr) == 0 ? len : 0;
    }
}

SEC("tracepoint/raw_syscalls/sys_enter")
int sys_enter(struct sys_enter_ctx *ctx) {
    if (!traced())
        return 0;
    /* exit and exit_group never return. */
    if (ctx->id == NR_exit || ctx->id == NR_exit_group) {
        struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
        if (!e) {
            count_drop();
            return 0;
        }
        fill(&e->h, EV_SYSCALL);
        e->nr = ctx->id;
        e->ret = 0;
        bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    const void *ptr = 0;
    __u32 len = 0;
    int is_str = 0;
    /* The verifier refuses a pointer into ctx that is moved around: copy the
     * arguments to the stack first. */
    unsigned long args[6];
    __builtin_memcpy(args, ctx->args, sizeof(args));
    asm volatile("" ::: "memory");
    if (!wanted(ctx->id, args, &ptr, &len, &is_str))
        return 0;
    /* execve replaces the memory: its path is read now, its result comes at its exit. */
    if (ctx->id == NR_execve || ctx->id == NR_execveat) {
        struct data_event *e = data_event(EV_EXEC_CALL, ctx->id);
        if (!e)
            return 0;
        read_into(e, (__u64)ptr, 0, 1);
        bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
        return 0;
    }
    struct pending p = {.nr = ctx->id, .ptr = (__u64)ptr, .len = len, .is_str = is_str};
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    bpf_map_update_elem(&inflight, &tid, &p, BPF_ANY);
    return 0;
}

SEC("tracepoint/raw_syscalls/sys_exit")
int sys_exit(struct sys_exit_ctx *ctx) {
    if (!traced())
        return 0;
    __u32 tid = (__u32)bpf_get_current_pid_tgid();
    struct pending *p = bpf_map_lookup_elem(&inflight, &tid);
    if (p && p->nr == ctx->id) {
        struct data_event *e = data_event(EV_DATA, ctx->id);
        if (e) {
            e->ret = ctx->ret;
            /* A report line: only what was written. */
            __u32 len = p->len;
            if (ctx->id == NR_write && ctx->ret >= 0 && ctx->ret < len)
                len = ctx->ret;
            read_into(e, p->ptr, len, p->is_str);
            bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
        }
        bpf_map_delete_elem(&inflight, &tid);
        return 0;
    }
    if (p)
        bpf_map_delete_elem(&inflight, &tid);
    struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count_drop();
        return 0;
    }
    fill(&e->h, EV_SYSCALL);
    e->nr = ctx->id;
    e->ret = ctx->ret;
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

SEC("tracepoint/kmem/mm_page_alloc")
int page_alloc(struct page_alloc_ctx *ctx) {
    if (!traced())
        return 0;
    struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count_drop();
        return 0;
    }
    fill(&e->h, EV_PAGE_ALLOC);
    e->nr = ctx->order;
    e->ret = 0;
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

static __always_inline int proc_event(__u32 kind, __s64 a, __s64 b) {
    struct sys_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count_drop();
        return 0;
    }
    fill(&e->h, kind);
    e->nr = a;
    e->ret = b;
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

SEC("tracepoint/sched/sched_process_fork")
int process_fork(struct fork_ctx *ctx) {
    if (!traced())
        return 0;
    return proc_event(EV_FORK, ctx->parent_pid, ctx->child_pid);
}

SEC("tracepoint/sched/sched_process_exec")
int process_exec(struct exec_ctx *ctx) {
    if (!traced())
        return 0;
    return proc_event(EV_EXEC, ctx->pid, ctx->old_pid);
}

SEC("tracepoint/sched/sched_process_exit")
int process_exit(struct exit_ctx *ctx) {
    if (!traced())
        return 0;
    return proc_event(EV_EXIT, ctx->pid, ctx->group_dead);
}

SEC("tracepoint/signal/signal_generate")
int signal_generate(struct signal_ctx *ctx) {
    /* Signals sent by the child's tree (to anyone) or to it (by the kernel, a fault). */
    if (!traced())
        return 0;
    return proc_event(EV_SIGNAL, ctx->sig, ctx->pid);
}

/* Go: reads the text of a panic value (an `any`: type, data) when it is a string, an
 * error whose first field is a string (errors.New, fmt.Errorf), or an int. */
static __always_inline void go_value(struct panic_event *e, __u64 typ, __u64 data) {
    __u8 kind = 0;
    e->value_kind = 0;
    e->len = 0;
    if (!typ || bpf_probe_read_user(&kind, 1, (void *)(typ + GO_TYPE_KIND)) != 0)
        return;
    kind &= GO_KIND_MASK;
    __u64 str = 0;
    if (kind == GO_KIND_STRING) {
        str = data;
    } else if (kind == GO_KIND_INT) {
        __s64 v = 0;
        if (bpf_probe_read_user(&v, 8, (void *)data) == 0) {
            e->value_kind = VALUE_INT;
            e->int_value = v;
        }
        return;
    } else if (kind == GO_KIND_PTR) {
        __u64 elem = 0, fields = 0, ftyp = 0;
        __u8 ek = 0, fk = 0;
        if (bpf_probe_read_user(&elem, 8, (void *)(typ + GO_PTR_ELEM)) || !elem)
            return;
        if (bpf_probe_read_user(&ek, 1, (void *)(elem + GO_TYPE_KIND)) || (ek & GO_KIND_MASK) != GO_KIND_STRUCT)
            return;
        if (bpf_probe_read_user(&fields, 8, (void *)(elem + GO_STRUCT_FIELDS)) || !fields)
            return;
        if (bpf_probe_read_user(&ftyp, 8, (void *)(fields + GO_FIELD_TYP)) || !ftyp)
            return;
        if (bpf_probe_read_user(&fk, 1, (void *)(ftyp + GO_TYPE_KIND)) || (fk & GO_KIND_MASK) != GO_KIND_STRING)
            return;
        str = data;
        e->value_kind = VALUE_ERROR;
    } else {
        e->value_kind = VALUE_OTHER;
        e->int_value = kind;
        return;
    }
    __u64 hdr[2] = {0, 0};
    if (!str || bpf_probe_read_user(hdr, sizeof(hdr), (void *)str))
        return;
    __u32 n = hdr[1] < DATA_LEN ? hdr[1] : DATA_LEN - 1;
    n &= DATA_LEN - 1;
    if (bpf_probe_read_user(e->data, n, (void *)hdr[0]) == 0) {
        e->len = n;
        if (!e->value_kind)
            e->value_kind = VALUE_STRING;
    }
}

static __always_inline struct panic_event *go_event(struct pt_regs *ctx, __u32 kind) {
    struct panic_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        count_drop();
        return 0;
    }
    fill(&e->h, kind);
    e->goid = 0;
    e->int_value = 0;
    __u32 k = 1;
    __u64 *off = bpf_map_lookup_elem(&config, &k);
    if (off && *off && ctx->r14)
        bpf_probe_read_user(&e->goid, 8, (void *)(ctx->r14 + *off));
    return e;
}

/* runtime.gopanic(e any): every panic, recovered or not. */
SEC("uprobe/gopanic")
int go_panic(struct pt_regs *ctx) {
    if (!traced())
        return 0;
    struct panic_event *e = go_event(ctx, EV_GO_PANIC);
    if (!e)
        return 0;
    go_value(e, ctx->ax, ctx->bx);
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

/* runtime.fatalpanic: a panic nobody recovered is about to kill the process. */
SEC("uprobe/fatalpanic")
int go_fatalpanic(struct pt_regs *ctx) {
    if (!traced())
        return 0;
    struct panic_event *e = go_event(ctx, EV_GO_FATALPANIC);
    if (!e)
        return 0;
    e->value_kind = 0;
    e->len = 0;
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}

/* runtime.throw(s string) and runtime.fatal(s string): "fatal error: s". */
SEC("uprobe/throw")
int go_throw(struct pt_regs *ctx) {
    if (!traced())
        return 0;
    struct panic_event *e = go_event(ctx, EV_GO_THROW);
    if (!e)
        return 0;
    __u32 n = ctx->bx < DATA_LEN ? ctx->bx : DATA_LEN - 1;
    n &= DATA_LEN - 1;
    e->value_kind = VALUE_STRING;
    e->len = bpf_probe_read_user(e->data, n, (void *)ctx->ax) == 0 ? n : 0;
    bpf_ringbuf_submit(e, BPF_RB_NO_WAKEUP);
    return 0;
}
