/* What tests need from the operating system beyond the runtime's own
 * platform layer (runtime/platform/platform.h, which tests also use for
 * threads, sleeping, time and spawning). One implementation per system:
 * test_os_posix.c and test_os_win32.c; CMake builds the one that applies. */
#ifndef PRPC_TESTS_SUPPORT_TEST_OS_H
#define PRPC_TESTS_SUPPORT_TEST_OS_H

#include <stdbool.h>
#include <stdint.h>

/* The number of open descriptors (POSIX) or kernel handles (Windows) of
 * this process, for leak checks: equal counts before and after a piece of
 * work mean it closed what it opened. -1 when it cannot be counted. */
int test_os_open_handles(void);

/* This process's id and user, in the terms of prpc__peer (on Windows the
 * uid is the relative id of the user's SID, as the platform layer reports
 * it). Computed here without the runtime, so a test comparing them with a
 * peer the runtime reports checks the runtime. */
int64_t test_os_pid(void);
uint32_t test_os_uid(void);

/* True when a client of a local (pipe:, unix:) server learns the server's
 * user: SO_PEERCRED on POSIX; on Windows a pipe client gets the server's
 * process id only. */
bool test_os_dialer_knows_server_user(void);

/* A directory for test files ("/tmp" on POSIX). */
const char *test_os_temp_dir(void);

/* Removes the lock file a pipe: or unix: listener leaves beside the socket
 * at sock_path on purpose (POSIX); nothing on Windows, whose pipe
 * listeners claim their name with a named mutex that dies with them. */
void test_os_remove_lock_file(const char *sock_path);

/* Waits up to timeout_ms until the pollable descriptor of a connection
 * (prpc__tconn_pollable) is readable: 1 readable, 0 timed out, -1 error.
 * Windows has no pollable handle (it is always -1 there, as documented):
 * this then sleeps timeout_ms and returns 0, and the caller's receive
 * without waiting finds what has arrived meanwhile. */
int test_os_wait_readable(intptr_t pollable, uint32_t timeout_ms);

/* Raises the soft limit of open descriptors to the hard limit (a parent
 * that lowered it passed the lower limit on). Nothing on Windows. */
void test_os_raise_handle_limit(void);

/* True when a failed start of a child process may be retried: under Wine,
 * CreateProcess now and then fails with ERROR_INTERNAL_ERROR (1359) while
 * other processes start and stop around it, and the same call succeeds
 * again at once. Always false on POSIX and on real Windows, where a spawn
 * that fails is a failure. */
bool test_os_spawn_may_retry(const char *err_msg);

#endif
