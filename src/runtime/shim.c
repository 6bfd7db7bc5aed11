/* plugctl's loader shim: dlopen() each path in order and report the exact dlerror().
 *
 * Linked into plugctl as a function (build.rs compiles it with the `cc` crate) and run
 * only in a sandboxed child as `plugctl __shim --report-fd N [--lazy] [--global] PATH...`,
 * never in plugctl's own process. One JSON object per line goes to the report fd:
 *
 *   {"ev":"dlopen-begin","index":0}
 *   {"ev":"dlopen","index":0,"ok":false,"error":"<dlerror text>","us":123}
 *   {"ev":"done"}
 *
 * A crash inside dlopen (a constructor faulting, a truncated file making ld.so fault)
 * leaves a "dlopen-begin" without its "dlopen": the parent reports the signal.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static void put_escaped(FILE *out, const char *text) {
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        switch (*p) {
        case '"': fputs("\\\"", out); break;
        case '\\': fputs("\\\\", out); break;
        case '\n': fputs("\\n", out); break;
        case '\r': fputs("\\r", out); break;
        case '\t': fputs("\\t", out); break;
        default:
            if (*p < 0x20) {
                fprintf(out, "\\u%04x", *p);
            } else {
                fputc(*p, out);
            }
        }
    }
}

static long elapsed_us(const struct timespec *a, const struct timespec *b) {
    return (long)(b->tv_sec - a->tv_sec) * 1000000L + (long)(b->tv_nsec - a->tv_nsec) / 1000L;
}

int plugctl_shim_main(int argc, char **argv) {
    int fd = -1;
    int flags = RTLD_NOW;
    int first = argc;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--report-fd") == 0 && i + 1 < argc) {
            fd = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--lazy") == 0) {
            flags = (flags & ~RTLD_NOW) | RTLD_LAZY;
        } else if (strcmp(argv[i], "--global") == 0) {
            flags |= RTLD_GLOBAL;
        } else if (strcmp(argv[i], "--") == 0) {
            first = i + 1;
            break;
        } else {
            first = i;
            break;
        }
    }
    FILE *out = fd >= 0 ? fdopen(fd, "w") : stdout;
    if (out == NULL) {
        perror("plugctl shim: report fd");
        return 2;
    }
    setvbuf(out, NULL, _IONBF, 0);
    fprintf(out, "{\"ev\":\"start\",\"flags\":\"%s%s\"}\n", (flags & RTLD_LAZY) ? "RTLD_LAZY" : "RTLD_NOW",
            (flags & RTLD_GLOBAL) ? "|RTLD_GLOBAL" : "");
    for (int i = first; i < argc; i++) {
        int index = i - first;
        fprintf(out, "{\"ev\":\"dlopen-begin\",\"index\":%d}\n", index);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        void *handle = dlopen(argv[i], flags);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        if (handle == NULL) {
            const char *err = dlerror();
            fprintf(out, "{\"ev\":\"dlopen\",\"index\":%d,\"ok\":false,\"us\":%ld,\"error\":\"", index,
                    elapsed_us(&t0, &t1));
            put_escaped(out, err ? err : "(dlerror returned NULL)");
            fputs("\"}\n", out);
        } else {
            fprintf(out, "{\"ev\":\"dlopen\",\"index\":%d,\"ok\":true,\"us\":%ld}\n", index, elapsed_us(&t0, &t1));
        }
    }
    fputs("{\"ev\":\"done\"}\n", out);
    fflush(out);
    return 0;
}
