/* Runs a helper program by absolute path with an argv array, capturing its output: fork + exec, no shell. */
#include "exec-util.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cleanup.h"
#include "log.h"
#include "time-util.h"

void exec_result_done(exec_result *r)
{
        if (!r)
                return;
        free(r->out);
        free(r->err);
        r->out = r->err = NULL;
}

typedef struct buf {
        char *data;
        size_t len, cap, max, emitted; /* emitted: bytes already handed to on_stdout */
} buf;

static int buf_append(buf *b, const char *p, size_t n)
{
        if (b->len >= b->max)
                return 0; /* keep draining the pipe, drop the excess */
        if (n > b->max - b->len)
                n = b->max - b->len;
        if (b->len + n + 1 > b->cap) {
                size_t cap = (b->len + n + 1) * 2;
                char *d = realloc(b->data, cap);

                if (!d)
                        return -ENOMEM;
                b->data = d;
                b->cap = cap;
        }
        memcpy(b->data + b->len, p, n);
        b->len += n;
        b->data[b->len] = 0;
        return 0;
}

static int emit_chunks(buf *b, const exec_opts *o, bool final)
{
        while (o && o->on_stdout && b->emitted < b->len) {
                char *start = b->data + b->emitted, *end = start;
                int r;

                while (end < b->data + b->len && *end != '\n' && *end != '\r')
                        end++;
                if (end == b->data + b->len && !final)
                        break;
                {
                        char save = *end;

                        *end = 0;
                        r = *start ? o->on_stdout(start, o->userdata) : 0;
                        *end = save;
                }
                b->emitted = (size_t)(end - b->data) + (end < b->data + b->len ? 1 : 0);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The child on our stdout and stderr, stdin on /dev/null; only its status is collected. */
static int exec_run_inherit(char *const *argv, const exec_opts *opts, exec_result *ret)
{
        _cleanup_close_ int null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int status;
        pid_t pid;

        if (null_fd < 0)
                return -errno;
        fflush(NULL);
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                if (dup2(null_fd, STDIN_FILENO) < 0)
                        _exit(127);
                if (opts->cwd && chdir(opts->cwd) < 0)
                        _exit(127);
                /* The same privilege drop as a captured child: an inherited terminal lends no rights. */
                if (opts->drop &&
                    ((!opts->cwd && chdir("/") < 0) || setgroups(opts->n_groups, opts->groups) < 0 ||
                     setgid(opts->gid) < 0 || setuid(opts->uid) < 0 ||
                     (opts->uid != 0 && (setuid(0) == 0 || geteuid() == 0))))
                        _exit(126);
                if (opts->envp)
                        execve(argv[0], argv, opts->envp);
                else {
                        setenv("LC_ALL", "C", 1);
                        execv(argv[0], argv);
                }
                _exit(127);
        }
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR)
                        return -errno;
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->out = strdup("");
        ret->err = strdup("");
        if (!ret->out || !ret->err) {
                exec_result_done(ret);
                return -ENOMEM;
        }
        return 0;
}

int exec_run(char *const *argv, const exec_opts *opts, exec_result *ret)
{
        _cleanup_close_ int out_r = -EBADF, out_w = -EBADF, err_r = -EBADF, err_w = -EBADF, null_fd = -EBADF;
        int pipe_out[2], pipe_err[2], status = 0, r = 0;
        size_t max = opts && opts->max_output ? opts->max_output : 1024 * 1024;
        unsigned tick = opts && opts->tick_ms ? opts->tick_ms : 200;
        buf out = { .max = max }, err = { .max = max };
        bool killed = false;
        long long next_tick;
        pid_t pid;

        if (!argv || !argv[0] || argv[0][0] != '/')
                return -EINVAL;
        if (access(argv[0], X_OK) < 0)
                return log_debug_errno(-errno, "cannot execute %s", argv[0]);
        if (opts && opts->inherit_output)
                return exec_run_inherit(argv, opts, ret);
        if (pipe2(pipe_out, O_CLOEXEC) < 0)
                return -errno;
        out_r = pipe_out[0];
        out_w = pipe_out[1];
        if (pipe2(pipe_err, O_CLOEXEC) < 0)
                return -errno;
        err_r = pipe_err[0];
        err_w = pipe_err[1];
        null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null_fd < 0)
                return -errno;

        log_debug("exec %s %s ...", argv[0], argv[1] ? argv[1] : "");
        pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                /* dup2 clears O_CLOEXEC on the copies; everything else closes on exec. */
                if (dup2(null_fd, STDIN_FILENO) < 0 || dup2(out_w, STDOUT_FILENO) < 0 ||
                    dup2(err_w, STDERR_FILENO) < 0)
                        _exit(127);
                if (opts && opts->cwd && chdir(opts->cwd) < 0)
                        _exit(127);
                /* Messages we parse must not be translated. */
                if (opts && opts->drop &&
                    ((!opts->cwd && chdir("/") < 0) || setgroups(opts->n_groups, opts->groups) < 0 ||
                     setgid(opts->gid) < 0 || setuid(opts->uid) < 0 ||
                     (opts->uid != 0 && (setuid(0) == 0 || geteuid() == 0))))
                        _exit(126);
                if (opts && opts->envp)
                        execve(argv[0], argv, opts->envp);
                else {
                        setenv("LC_ALL", "C", 1);
                        execv(argv[0], argv);
                }
                _exit(127);
        }
        closep(&out_w);
        out_w = -EBADF;
        closep(&err_w);
        err_w = -EBADF;

        next_tick = now_ms() + tick;
        while (out_r >= 0 || err_r >= 0) {
                struct pollfd p[2] = { { .fd = out_r, .events = POLLIN },
                                       { .fd = err_r, .events = POLLIN } };
                char chunk[4096];

                if (poll(p, 2, ms_until(next_tick)) < 0 && errno != EINTR) {
                        r = -errno;
                        break;
                }
                for (int i = 0; i < 2; i++) {
                        int *fd = i == 0 ? &out_r : &err_r;
                        ssize_t n;

                        if (*fd < 0 || !(p[i].revents & (POLLIN | POLLHUP | POLLERR)))
                                continue;
                        n = read(*fd, chunk, sizeof(chunk));
                        if (n < 0 && errno == EINTR)
                                continue;
                        if (n <= 0) {
                                close(*fd);
                                *fd = -EBADF;
                                continue;
                        }
                        r = buf_append(i == 0 ? &out : &err, chunk, (size_t)n);
                        if (r == 0 && i == 0)
                                r = emit_chunks(&out, opts, false);
                        if (r < 0)
                                break;
                }
                if (r >= 0 && now_ms() >= next_tick) {
                        next_tick = now_ms() + tick;
                        if (opts && opts->on_tick)
                                r = opts->on_tick(opts->userdata);
                }
                if (r < 0) {
                        kill(pid, SIGTERM);
                        killed = true;
                        break;
                }
        }
        if (r >= 0)
                r = emit_chunks(&out, opts, true);
        while (waitpid(pid, &status, 0) < 0)
                if (errno != EINTR) {
                        r = r < 0 ? r : -errno;
                        break;
                }
        if (r < 0 || killed) {
                free(out.data);
                free(err.data);
                return r < 0 ? r : -ECANCELED;
        }
        ret->status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        ret->out = out.data ? out.data : strdup("");
        ret->err = err.data ? err.data : strdup("");
        if (!ret->out || !ret->err) {
                exec_result_done(ret);
                return -ENOMEM;
        }
        log_debug("exec %s: status %d", argv[0], ret->status);
        return 0;
}

char *exec_first_line(const char *s)
{
        size_t n;

        if (!s)
                return strdup("");
        while (*s == '\n' || *s == ' ')
                s++;
        n = strcspn(s, "\n");
        while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\r' || s[n - 1] == '\t'))
                n--;
        return strndup(s, n);
}
