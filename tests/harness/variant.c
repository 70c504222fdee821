/* Fixture variants: copy a captured kernel tree, then change only what a test case needs. */
#include "variant.h"

#include <errno.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static void die(const char *what, const char *arg)
{
        fprintf(stderr, "variant: %s %s: %s\n", what, arg ? arg : "", strerror(errno));
        abort();
}

static char *join(const char *root, const char *rel)
{
        char *p;

        if (asprintf(&p, "%s/%s", root, rel) < 0)
                die("asprintf", rel);
        return p;
}

static void mkdir_parents(const char *root, const char *rel)
{
        char *p = join(root, rel);

        for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
                *s = 0;
                if (mkdir(p, 0755) < 0 && errno != EEXIST)
                        die("mkdir", p);
                *s = '/';
        }
        free(p);
}

extern char **environ;

static void run(const char *const *argv)
{
        pid_t pid;
        int st;

        if (posix_spawnp(&pid, argv[0], NULL, NULL, (char *const *)argv, environ) != 0)
                die("spawn", argv[0]);
        if (waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
                errno = EIO;
                die("command failed:", argv[0]);
        }
}

/* A tree of ~4000 entries: on tmpfs a copy takes 0.1 s, on this machine's ext4 /tmp 3-4 s. */
static const char *tmp_base(void)
{
        const char *t = getenv("VFIOCTL_VARIANT_TMP");
        struct stat st;

        if (t && *t)
                return t;
        if (stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0)
                return "/dev/shm";
        return "/tmp";
}

static bool is_variant_dir(const char *dir)
{
        return strstr(dir, "/vfioctl-variant-") != NULL && !strstr(dir, "..");
}

void variant_free(char *dir)
{
        if (!dir)
                return;
        if (is_variant_dir(dir)) {
                const char *argv[] = { "rm", "-rf", "--", dir, NULL };

                run(argv);
        }
        free(dir);
}

void variant_rmtree(const char *root, const char *rel)
{
        char *p = join(root, rel);
        const char *argv[] = { "rm", "-rf", "--", p, NULL };

        if (!is_variant_dir(root) || strstr(rel, ".."))
                die("refusing to remove outside a variant", p);
        run(argv);
        free(p);
}

void variant_unlink(const char *root, const char *rel)
{
        char *p = join(root, rel);

        if (unlink(p) < 0 && errno != ENOENT)
                die("unlink", p);
        free(p);
}

char *variant_new(const char *base)
{
        char *dir, *list, *rel, *text, *src, *tmpl;

        if (asprintf(&tmpl, "%s/vfioctl-variant-XXXXXX", tmp_base()) < 0)
                die("asprintf", base);
        if (!mkdtemp(tmpl))
                die("mkdtemp", tmpl);
        dir = tmpl;
        if (asprintf(&rel, "sysfs/%s/.", base) < 0)
                die("asprintf", base);
        src = fixture_data_path(rel);
        {
                const char *argv[] = { "cp", "-a", src, dir, NULL };

                run(argv);
        }
        free(src);
        free(rel);

        /* git drops empty directories; the capture lists them (tests/data/sysfs/README.md). */
        if (asprintf(&rel, "sysfs/%s/.empty-dirs", base) < 0)
                die("asprintf", base);
        list = fixture_data_path(rel);
        text = fixture_read(list);
        for (char *line = text, *next; line && *line; line = next) {
                next = strchr(line, '\n');
                if (next)
                        *next++ = 0;
                if (*line && !strstr(line, "..")) {
                        char *d;

                        if (asprintf(&d, "%s/.keep", line) < 0)
                                die("asprintf", line);
                        mkdir_parents(dir, d);
                        free(d);
                }
        }
        free(text);
        free(list);
        free(rel);
        return dir;
}

void variant_write(const char *root, const char *rel, const char *content)
{
        mkdir_parents(root, rel);
        fixture_write(root, rel, content);
}

void variant_append(const char *root, const char *rel, const char *line)
{
        char *p = join(root, rel);
        FILE *f;

        mkdir_parents(root, rel);
        f = fopen(p, "ae");
        if (!f)
                die("open", p);
        fprintf(f, "%s\n", line);
        fclose(f);
        free(p);
}

void variant_replace(const char *root, const char *rel, const char *from, const char *to)
{
        char *p = join(root, rel), *text = fixture_read(p), *at, *out;

        if (!text || !(at = strstr(text, from))) {
                errno = ENOENT;
                die("replace: text not found in", p);
        }
        if (asprintf(&out, "%.*s%s%s", (int)(at - text), text, to, at + strlen(from)) < 0)
                die("asprintf", p);
        fixture_write(root, rel, out);
        free(out);
        free(text);
        free(p);
}

void variant_copy(const char *root, const char *from, const char *to)
{
        char *f = join(root, from), *t = join(root, to);
        const char *argv[] = { "cp", "-a", f, t, NULL };

        if (!is_variant_dir(root) || strstr(from, "..") || strstr(to, ".."))
                die("refusing to copy outside a variant", f);
        run(argv);
        free(f);
        free(t);
}

void variant_chmod(const char *root, const char *rel, mode_t mode)
{
        char *p = join(root, rel);

        if (chmod(p, mode) < 0)
                die("chmod", p);
        free(p);
}

void variant_pci_attr(const char *root, const char *addr, const char *attr, const char *value)
{
        char *rel;

        if (asprintf(&rel, "sys/bus/pci/devices/%s/%s", addr, attr) < 0)
                die("asprintf", attr);
        fixture_write(root, rel, value);
        free(rel);
}

void variant_pci_ids(const char *root, const char *addr, unsigned vendor, unsigned device, unsigned class)
{
        char buf[16];

        snprintf(buf, sizeof(buf), "0x%04x\n", vendor);
        variant_pci_attr(root, addr, "vendor", buf);
        snprintf(buf, sizeof(buf), "0x%04x\n", device);
        variant_pci_attr(root, addr, "device", buf);
        if (class) {
                snprintf(buf, sizeof(buf), "0x%06x\n", class);
                variant_pci_attr(root, addr, "class", buf);
        }
}

void variant_pci_driver(const char *root, const char *addr, const char *driver)
{
        char *rel, *path, target[4096], *slash, *nt;
        ssize_t n;

        if (asprintf(&rel, "sys/bus/pci/devices/%s/driver", addr) < 0)
                die("asprintf", addr);
        path = join(root, rel);
        n = readlink(path, target, sizeof(target) - 1);
        if (n < 0) {
                /* No driver yet: the kernel's link from a device one bus below the root. */
                snprintf(target, sizeof(target), "../../../../bus/pci/drivers/x");
                n = (ssize_t)strlen(target);
        }
        target[n] = 0;
        slash = strrchr(target, '/');
        if (asprintf(&nt, "%.*s/%s", (int)(slash - target), target, driver) < 0)
                die("asprintf", driver);
        fixture_symlink(root, rel, nt);
        free(nt);
        free(path);
        free(rel);
}
