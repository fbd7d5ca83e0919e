/* test_os.h on POSIX: /proc/self/fd, poll, rlimits, unlink. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "test_os.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <sys/resource.h>
#include <unistd.h>

int test_os_open_handles(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n - 1; /* the directory's own descriptor */
}

int64_t test_os_pid(void)
{
    return (int64_t)getpid();
}

uint32_t test_os_uid(void)
{
    return (uint32_t)geteuid();
}

bool test_os_dialer_knows_server_user(void)
{
    return true;
}

const char *test_os_temp_dir(void)
{
    return "/tmp";
}

void test_os_remove_lock_file(const char *sock_path)
{
    char lock[1100];
    if (snprintf(lock, sizeof lock, "%s.lock", sock_path) < (int)sizeof lock)
        unlink(lock);
}

int test_os_wait_readable(intptr_t pollable, uint32_t timeout_ms)
{
    struct pollfd pfd = {.fd = (int)pollable, .events = POLLIN};
    int r;
    do {
        r = poll(&pfd, 1, (int)timeout_ms);
    } while (r < 0 && errno == EINTR);
    return r < 0 ? -1 : r > 0;
}

void test_os_raise_handle_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

bool test_os_spawn_may_retry(const char *err_msg)
{
    (void)err_msg;
    return false;
}
