/* Process helpers for the runtime tests (see rt_proc.h). */
#define _GNU_SOURCE
#include "rt_proc.h"

#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

pid_t rt_server_start(const char *const *opts, const char *endpoint, char *bound, size_t size)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    char fdarg[16];
    snprintf(fdarg, sizeof fdarg, "%d", p[1]);
    const char *argv[64];
    int n = 0;
    argv[n++] = RT_SERVER_PATH;
    argv[n++] = "--ready-fd";
    argv[n++] = fdarg;
    for (int i = 0; opts != NULL && opts[i] != NULL && n < 60; i++)
        argv[n++] = opts[i];
    argv[n++] = endpoint;
    argv[n] = NULL;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addclose(&fa, p[0]);
    pid_t pid;
    int rc = posix_spawn(&pid, RT_SERVER_PATH, &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(p[1]);
    if (rc != 0) {
        close(p[0]);
        return -1;
    }
    char line[2048];
    size_t got = 0;
    struct pollfd pf = {p[0], POLLIN, 0};
    while (got < sizeof line - 1 && poll(&pf, 1, 10000) > 0) {
        ssize_t r = read(p[0], line + got, sizeof line - 1 - got);
        if (r <= 0)
            break;
        got += (size_t)r;
        if (memchr(line, '\n', got) != NULL)
            break;
    }
    close(p[0]);
    line[got] = '\0';
    char *nl = strchr(line, '\n');
    if (strncmp(line, "READY ", 6) != 0 || nl == NULL) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        return -1;
    }
    *nl = '\0';
    char *sp = strchr(line + 6, ' ');
    if (sp != NULL)
        *sp = '\0';
    snprintf(bound, size, "%s", line + 6);
    return pid;
}

int rt_wait(pid_t pid, int timeout_ms)
{
    int status;
    for (int waited = 0;; waited += 5) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        if (r < 0)
            return -1;
        if (waited >= timeout_ms) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        sleep_ms(5);
    }
}

int rt_server_stop(pid_t pid, int timeout_ms)
{
    kill(pid, SIGTERM);
    return rt_wait(pid, timeout_ms);
}

pid_t rt_client_start(const char *const *args)
{
    const char *argv[32];
    int n = 0;
    argv[n++] = RT_CLIENT_PATH;
    for (int i = 0; args[i] != NULL && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid;
    if (posix_spawn(&pid, RT_CLIENT_PATH, NULL, NULL, (char *const *)argv, environ) != 0)
        return -1;
    return pid;
}

void rt_endpoint(char *buf, size_t size, const char *scheme_prefix, const char *tag)
{
    snprintf(buf, size, "%srt-%s-%d", scheme_prefix, tag, (int)getpid());
}

void rt_raise_nofile(unsigned n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur >= n)
        return;
    rl.rlim_cur = rl.rlim_max < n ? rl.rlim_max : n;
    setrlimit(RLIMIT_NOFILE, &rl);
}

unsigned rt_proc_fds(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return 0;
    unsigned n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* The state letter of one thread ('R', 'S', 'T', ...) from its stat file,
 * or 0 if it cannot be read (the thread is gone). */
static char thread_state(pid_t pid, const char *tid)
{
    char path[96], buf[512];
    snprintf(path, sizeof path, "/proc/%d/task/%s/stat", (int)pid, tid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return 0;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name is in parentheses and may itself hold any byte. */
    char *close = strrchr(buf, ')');
    return close != NULL && close[1] == ' ' ? close[2] : 0;
}

int rt_freeze(pid_t pid)
{
    if (kill(pid, SIGSTOP) != 0)
        return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    for (int waited = 0; waited < 5000; waited++) {
        DIR *d = opendir(path);
        if (d == NULL)
            return -1;
        int running = 0, seen = 0;
        struct dirent *e;
        while ((e = readdir(d)) != NULL) {
            if (e->d_name[0] == '.')
                continue;
            char st = thread_state(pid, e->d_name);
            seen++;
            if (st != 0 && st != 'T' && st != 't')
                running++;
        }
        closedir(d);
        if (seen > 0 && running == 0)
            return 0;
        sleep_ms(1);
    }
    return -1;
}
