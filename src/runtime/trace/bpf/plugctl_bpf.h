/* Self-contained definitions for trace.bpf.c: BPF helper ids, map macros, tracepoint
 * layouts (from /sys/kernel/tracing/events/.../format, stable ABI), the x86-64 pt_regs
 * and the events shared with src/runtime/trace/event.rs. No libbpf headers needed. */
#ifndef PLUGCTL_BPF_H
#define PLUGCTL_BPF_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef int __s32;
typedef unsigned long long __u64;
typedef long long __s64;

#define SEC(name) __attribute__((section(name), used))
#define __uint(name, val) int (*name)[val]
#define __type(name, val) typeof(val) *name
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif

enum { BPF_MAP_TYPE_HASH = 1, BPF_MAP_TYPE_ARRAY = 2, BPF_MAP_TYPE_PERCPU_ARRAY = 6, BPF_MAP_TYPE_RINGBUF = 27 };
enum { BPF_ANY = 0 };
/* Submit without waking the reader: plugctl polls every few milliseconds. */
enum { BPF_RB_NO_WAKEUP = 1 };

static void *(*bpf_map_lookup_elem)(void *map, const void *key) = (void *)1;
static long (*bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *)2;
static long (*bpf_map_delete_elem)(void *map, const void *key) = (void *)3;
static __u64 (*bpf_ktime_get_ns)(void) = (void *)5;
static __u64 (*bpf_get_current_pid_tgid)(void) = (void *)14;
static __u64 (*bpf_get_current_cgroup_id)(void) = (void *)80;
static long (*bpf_probe_read_user)(void *dst, __u32 size, const void *src) = (void *)112;
static long (*bpf_probe_read_user_str)(void *dst, __u32 size, const void *src) = (void *)114;
static void *(*bpf_ringbuf_reserve)(void *ringbuf, __u64 size, __u64 flags) = (void *)131;
static void (*bpf_ringbuf_submit)(void *data, __u64 flags) = (void *)132;

/* Tracepoint contexts (after the 8-byte common header). */
struct sys_enter_ctx { __u64 common; __s64 id; unsigned long args[6]; };
struct sys_exit_ctx { __u64 common; __s64 id; __s64 ret; };
struct page_alloc_ctx { __u64 common; unsigned long pfn; __u32 order; __u32 pad; unsigned long gfp_flags; __s32 migratetype; };
struct fork_ctx { __u64 common; __u32 parent_comm; __s32 parent_pid; __u32 child_comm; __s32 child_pid; };
struct exec_ctx { __u64 common; __u32 filename; __s32 pid; __s32 old_pid; };
struct exit_ctx { __u64 common; char comm[16]; __s32 pid; __s32 prio; __u8 group_dead; };
struct signal_ctx { __u64 common; __s32 sig; __s32 err; __s32 code; char comm[16]; __s32 pid; __s32 group; __s32 result; };

/* x86-64 struct pt_regs (arch/x86/include/asm/ptrace.h). */
struct pt_regs {
    unsigned long r15, r14, r13, r12, bp, bx, r11, r10, r9, r8, ax, cx, dx, si, di, orig_ax, ip, cs, flags, sp, ss;
};

/* x86-64 system call numbers. */
#define NR_write 1
#define NR_open 2
#define NR_stat 4
#define NR_lstat 6
#define NR_access 21
#define NR_connect 42
#define NR_sendto 44
#define NR_bind 49
#define NR_execve 59
#define NR_exit 60
#define NR_truncate 76
#define NR_chdir 80
#define NR_mkdir 83
#define NR_unlink 87
#define NR_readlink 89
#define NR_openat 257
#define NR_mkdirat 258
#define NR_newfstatat 262
#define NR_unlinkat 263
#define NR_readlinkat 267
#define NR_faccessat 269
#define NR_execveat 322
#define NR_statx 332
#define NR_exit_group 231
#define NR_openat2 437
#define NR_faccessat2 439

/* The target's report descriptor (see runtime/sandbox.rs). */
#define REPORT_FD 3

/* Go's internal/abi (amd64, Go 1.21+): Type.Kind_ offset, PtrType.Elem, StructType.Fields,
 * StructField.Typ; kinds. */
#define GO_TYPE_KIND 23
#define GO_KIND_MASK 0x1f
#define GO_PTR_ELEM 48
#define GO_STRUCT_FIELDS 56
#define GO_FIELD_TYP 8
#define GO_KIND_INT 2
#define GO_KIND_PTR 22
#define GO_KIND_STRING 24
#define GO_KIND_STRUCT 25

#define DATA_LEN 256
#define SOCKADDR_LEN 128
#define REPORT_LEN 255

/* Events (mirrored in src/runtime/trace/event.rs). */
enum {
    EV_SYSCALL = 1,
    EV_DATA = 2,
    EV_EXEC_CALL = 3,
    EV_PAGE_ALLOC = 4,
    EV_FORK = 5,
    EV_EXEC = 6,
    EV_EXIT = 7,
    EV_SIGNAL = 8,
    EV_GO_PANIC = 9,
    EV_GO_FATALPANIC = 10,
    EV_GO_THROW = 11,
};
enum { VALUE_STRING = 1, VALUE_ERROR = 2, VALUE_INT = 3, VALUE_OTHER = 4 };

struct head { __u64 ts; __u32 kind; __u32 tgid; __u32 tid; __u32 pad; };
/* 40 bytes */
struct sys_event { struct head h; __s64 nr; __s64 ret; };
/* 48 + DATA_LEN bytes */
struct data_event { struct head h; __s64 nr; __s64 ret; __u32 len; __u32 pad; __u8 data[DATA_LEN]; };
/* 56 + DATA_LEN bytes */
struct panic_event { struct head h; __u64 goid; __s64 int_value; __u32 value_kind; __u32 len; __u8 data[DATA_LEN]; };

#endif
