/* Commands that change the host, by absolute path with an argv array: planned, shown, then run. */
#include "vfioctl/hostcmd.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec-util.h"
#include "fileio.h"
#include "strv.h"
#include "vfioctl/account.h"
#include "vfioctl/useradd.h"

void vfio_hostcmds_done(vfio_hostcmds *l)
{
        for (size_t i = 0; i < l->n; i++) {
                strv_free(l->items[i].argv);
                free(l->items[i].why);
        }
        free(l->items);
        *l = (vfio_hostcmds){};
}

int vfio_hostcmds_add(vfio_hostcmds *l, const char *why, const char *const *argv)
{
        _cleanup_strv_free_ char **copy = calloc(1, sizeof(char *));
        _cleanup_free_ char *w = strdup(why ? why : "");
        vfio_hostcmd *n;

        if (!copy || !w)
                return -ENOMEM;
        for (const char *const *a = argv; *a; a++)
                if (strv_extend(&copy, *a) < 0)
                        return -ENOMEM;
        n = realloc(l->items, (l->n + 1) * sizeof(*n));
        if (!n)
                return -ENOMEM;
        l->items = n;
        l->items[l->n++] = (vfio_hostcmd){ .argv = TAKE_PTR(copy), .why = TAKE_PTR(w) };
        return 0;
}

static bool needs_quotes(const char *s)
{
        return !*s || strpbrk(s, " \t\n'\"\\$`*?[]{}()<>|&;#~!");
}

char *vfio_hostcmd_format(const vfio_hostcmd *c)
{
        char *out = strdup("");

        STRV_FOREACH(a, c->argv) {
                _cleanup_free_ char *q = NULL;
                char *n;

                if (!out)
                        return NULL;
                if (needs_quotes(*a)) {
                        /* 'it'\''s': single quotes, each ' closed, escaped and reopened. */
                        size_t len = 2;

                        for (const char *p = *a; *p; p++)
                                len += *p == '\'' ? 4 : 1;
                        q = malloc(len + 1);
                        if (!q) {
                                free(out);
                                return NULL;
                        }
                        {
                                char *w = q;

                                *w++ = '\'';
                                for (const char *p = *a; *p; p++)
                                        if (*p == '\'') {
                                                memcpy(w, "'\\''", 4);
                                                w += 4;
                                        } else
                                                *w++ = *p;
                                *w++ = '\'';
                                *w = 0;
                        }
                }
                if (asprintf(&n, "%s%s%s", out, *out ? " " : "", q ? q : *a) < 0) {
                        free(out);
                        return NULL;
                }
                free(out);
                out = n;
        }
        return out;
}

int vfio_hostcmd_locate(const vfio_host *h, const char *name, char **ret)
{
        static const char *const dirs[] = { "usr/sbin", "usr/bin", "sbin", "bin" };

        if (strchr(name, '/'))
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(dirs); i++) {
                _cleanup_free_ char *p = NULL;

                if (asprintf(&p, "%s/%s", dirs[i], name) < 0)
                        return -ENOMEM;
                if (vfio_host_exists(h, p) > 0) {
                        char *abs;

                        if (asprintf(&abs, "/%s", p) < 0)
                                return -ENOMEM;
                        *ret = abs;
                        return 0;
                }
        }
        return -ENOENT;
}

/* TERM only when it is a plain terminal name: it picks an entry of the system's terminfo, nothing more. */
static bool term_plain(const char *t)
{
        if (!t || !*t || strlen(t) > 64)
                return false;
        for (const char *p = t; *p; p++)
                if (!isalnum((unsigned char)*p) && !strchr("-+._", *p))
                        return false;
        return true;
}

int vfio_hostcmd_run(const vfio_host *h, const vfio_hostcmd *c, bool show, char **ret_error)
{
        /* Root runs these for a caller who may have come through sudo -E, an env_keep list or su without
         * '-': none of the caller's environment (APT_CONFIG, BASH_ENV for dracut's bash, PATH for the
         * helpers the initramfs and GRUB scripts call, LD_PRELOAD) nor working directory may steer them. */
        _cleanup_free_ char *term = NULL;
        char *envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL, NULL };
        exec_opts o = { .inherit_output = show, .envp = envp, .cwd = "/" };
        exec_result res = {};
        int r;

        if (!vfio_host_is_live(h))
                return -EROFS; /* below --root the host's tools would change the real host */
        if (show && term_plain(getenv("TERM"))) {
                if (asprintf(&term, "TERM=%s", getenv("TERM")) < 0)
                        return -ENOMEM;
                envp[2] = term;
        }
        r = exec_run(c->argv, &o, &res);
        if (r < 0)
                return r;
        if (res.status != 0 && show) {
                if (ret_error)
                        (void)asprintf(ret_error, "exit status %d (its output is above)", res.status);
        } else if (res.status != 0) {
                if (ret_error) {
                        /* The last line usually holds the reason (update-initramfs, grub-mkconfig). */
                        const char *e = res.err && *res.err ? res.err : res.out;
                        size_t n = e ? strlen(e) : 0;

                        while (n > 0 && (e[n - 1] == '\n' || e[n - 1] == ' '))
                                n--;
                        {
                                size_t start = n;

                                while (start > 0 && e[start - 1] != '\n')
                                        start--;
                                *ret_error = e ? strndup(e + start, n - start) : strdup("");
                        }
                }
                exec_result_done(&res);
                return -EIO;
        }
        exec_result_done(&res);
        return 0;
}

bool vfio_vmuser_name_valid(const char *name)
{
        size_t n = strlen(name);

        if (n == 0 || n > 32 || name[0] == '-' || (name[0] >= '0' && name[0] <= '9'))
                return false;
        return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_-") == n;
}

int vfio_vmuser_plan(const vfio_host *h, const char *user, const char *group, vfio_hostcmds *ret)
{
        _cleanup_(vfio_account_freep) vfio_account *acct = NULL;
        _cleanup_free_ char *groupadd = NULL, *useradd = NULL, *usermod = NULL;
        vfio_hostcmds l = {};
        uint32_t gid;
        bool has_group, has_user;
        int r = 0;

        if (!vfio_vmuser_name_valid(user) || !vfio_vmuser_name_valid(group))
                return -EINVAL;
        r = vfio_account_group_gid(h, group, &gid);
        if (r < 0 && r != -ENOENT)
                return r;
        has_group = r >= 0;
        r = vfio_account_lookup(h, user, &acct);
        if (r < 0 && r != -ENOENT)
                return r;
        has_user = r >= 0;
        r = 0;
        if ((vfio_hostcmd_locate(h, "groupadd", &groupadd) < 0 &&
             !(groupadd = strdup("/usr/sbin/groupadd"))) ||
            (vfio_hostcmd_locate(h, "useradd", &useradd) < 0 && !(useradd = strdup("/usr/sbin/useradd"))) ||
            (vfio_hostcmd_locate(h, "usermod", &usermod) < 0 && !(usermod = strdup("/usr/sbin/usermod"))))
                return -ENOMEM;
        if (!has_group)
                r = vfio_hostcmds_add(&l, "the group of /dev/kvm and the VFIO device nodes",
                                      (const char *const[]){ groupadd, "--system", group, NULL });
        if (r >= 0 && !has_user) {
                /* A system account: no home, no login; QEMU is all it runs. The same command as
                 * `setup --create-user`, with the host's own useradd. */
                const char *argv[VFIO_USERADD_ARGC];

                vfio_useradd_argv(useradd, user, group, argv);
                r = vfio_hostcmds_add(&l, "the account QEMU runs as", argv);
        } else if (r >= 0 && !strv_contains(acct->groups, group))
                r = vfio_hostcmds_add(&l, "the VM user opens /dev/kvm and /dev/vfio/N through this group",
                                      (const char *const[]){ usermod, "-a", "-G", group, user, NULL });
        if (r < 0) {
                vfio_hostcmds_done(&l);
                return r;
        }
        *ret = l;
        return 0;
}
