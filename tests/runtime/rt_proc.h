/* Process helpers for the runtime tests: start the rt_server program and
 * read the endpoint it bound, start rt_client processes, wait with a bound. */
#ifndef RT_PROC_H
#define RT_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* Starts rt_server with `opts` (NULL-terminated "--x", "v" pairs; may be
 * NULL) on endpoint, waits for READY and copies the first bound endpoint to
 * bound. Returns the pid, or -1. */
pid_t rt_server_start(const char *const *opts, const char *endpoint, char *bound, size_t size);
/* SIGTERM, then waits up to timeout_ms (then SIGKILL). Returns the exit
 * status, or -1 when it had to be killed or died of a signal. */
int rt_server_stop(pid_t pid, int timeout_ms);
/* Starts rt_client with argv (NULL-terminated, without the program). */
pid_t rt_client_start(const char *const *args);
/* Waits up to timeout_ms; returns the exit status, -1 on a signal or a
 * timeout (the process is then killed and reaped). */
int rt_wait(pid_t pid, int timeout_ms);
/* A unique endpoint name for this test process: "pipe:rt-<tag>-<pid>". */
void rt_endpoint(char *buf, size_t size, const char *scheme_prefix, const char *tag);
/* Raises RLIMIT_NOFILE to at least n (as far as the hard limit allows). */
void rt_raise_nofile(unsigned n);
/* Open descriptors of another process, from /proc. */
unsigned rt_proc_fds(pid_t pid);
/* Sends SIGSTOP and waits (up to 5 s) until every thread of the process is
 * stopped: kill() returns before that, and a thread still running could
 * answer one more call. Returns 0 once stopped, -1 otherwise. */
int rt_freeze(pid_t pid);

#endif
