/*
 * Generates a large sysfs tree in the kernel's layout by replicating a real root port and a real
 * endpoint (attribute files copied byte for byte from a captured tree), for stress tests and benchmarks.
 *
 * usage: gen-sysfs-tree TEMPLATE_ROOT PORT_ADDR ENDPOINT_ADDR OUT_ROOT DOMAINS PORTS_PER_DOMAIN
 * [FIRST_DOMAIN] (FIRST_DOMAIN in hex, e.g. 10000 for the domains Intel VMD creates). Each domain gets
 * PORTS_PER_DOMAIN root ports on bus 00, each with one endpoint on its own bus; every function is in its own
 * IOMMU group, as behind ACS-capable root ports.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "parse-util.h"

static void die(const char *what, const char *path)
{
        fprintf(stderr, "gen-sysfs-tree: %s %s: %s\n", what, path, strerror(errno));
        exit(1);
}

static void mkdir_p(const char *path)
{
        char buf[PATH_MAX];

        snprintf(buf, sizeof(buf), "%s", path);
        for (char *p = buf + 1; *p; p++)
                if (*p == '/') {
                        *p = 0;
                        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                                die("mkdir", buf);
                        *p = '/';
                }
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
                die("mkdir", buf);
}

static void write_file(const char *path, const char *data, size_t len)
{
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

        if (fd < 0)
                die("create", path);
        if (len && write(fd, data, len) != (ssize_t)len)
                die("write", path);
        close(fd);
}

static void symlink_at(const char *target, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void symlink_at(const char *target, const char *fmt, ...)
{
        char path[PATH_MAX];
        va_list ap;

        va_start(ap, fmt);
        vsnprintf(path, sizeof(path), fmt, ap);
        va_end(ap);
        if (symlink(target, path) < 0 && errno != EEXIST)
                die("symlink", path);
}

typedef struct attr {
        char name[64];
        char *data;
        size_t len;
} attr;

/* Loads the top-level regular files of a device directory (its attributes). */
static size_t load_attrs(const char *dir, attr **ret)
{
        DIR *d = opendir(dir);
        attr *a = NULL;
        size_t n = 0;
        struct dirent *de;

        if (!d)
                die("open", dir);
        while ((de = readdir(d))) {
                char path[PATH_MAX];
                struct stat st;
                FILE *f;

                snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
                if (lstat(path, &st) < 0 || !S_ISREG(st.st_mode) || strlen(de->d_name) >= sizeof(a->name))
                        continue;
                if (getenv("GEN_SYSFS_ATTRS")) {
                        char want[64 + 2];
                        char *list;

                        snprintf(want, sizeof(want), ",%s,", de->d_name);
                        if (asprintf(&list, ",%s,", getenv("GEN_SYSFS_ATTRS")) < 0)
                                abort();
                        if (!strstr(list, want)) {
                                free(list);
                                continue;
                        }
                        free(list);
                }
                a = realloc(a, (n + 1) * sizeof(attr));
                memcpy(a[n].name, de->d_name, strlen(de->d_name) + 1);
                a[n].data = malloc((size_t)st.st_size + 1);
                f = fopen(path, "re");
                a[n].len = f ? fread(a[n].data, 1, (size_t)st.st_size, f) : 0;
                if (f)
                        fclose(f);
                n++;
        }
        closedir(d);
        *ret = a;
        return n;
}

static char *driver_of(const char *dir)
{
        char link[PATH_MAX], target[PATH_MAX];
        ssize_t n;

        snprintf(link, sizeof(link), "%s/driver", dir);
        n = readlink(link, target, sizeof(target) - 1);
        if (n < 0)
                return NULL;
        target[n] = 0;
        return strdup(strrchr(target, '/') ? strrchr(target, '/') + 1 : target);
}

static void make_device(const char *out, const char *devpath, const char *name, const char *up,
                        const attr *a, size_t n, const char *driver, int group)
{
        char dir[PATH_MAX], t[PATH_MAX];

        snprintf(dir, sizeof(dir), "%s/sys/%s", out, devpath);
        mkdir_p(dir);
        for (size_t i = 0; i < n; i++) {
                char path[PATH_MAX + 80];

                snprintf(path, sizeof(path), "%s/%s", dir, a[i].name);
                write_file(path, a[i].data, a[i].len);
        }
        snprintf(t, sizeof(t), "%sbus/pci", up);
        symlink_at(t, "%s/subsystem", dir);
        if (driver) {
                snprintf(t, sizeof(t), "%sbus/pci/drivers/%s", up, driver);
                symlink_at(t, "%s/driver", dir);
                snprintf(t, sizeof(t), "%s/sys/bus/pci/drivers/%s", out, driver);
                mkdir_p(t);
                snprintf(t, sizeof(t), "../../../../%s", devpath);
                symlink_at(t, "%s/sys/bus/pci/drivers/%s/%s", out, driver, name);
        }
        snprintf(t, sizeof(t), "%skernel/iommu_groups/%d", up, group);
        symlink_at(t, "%s/iommu_group", dir);
        snprintf(t, sizeof(t), "%s/sys/kernel/iommu_groups/%d/devices", out, group);
        mkdir_p(t);
        snprintf(t, sizeof(t), "%s/sys/kernel/iommu_groups/%d/type", out, group);
        write_file(t, "DMA\n", 4);
        snprintf(t, sizeof(t), "../../../../devices/%s", devpath + strlen("devices/"));
        symlink_at(t, "%s/sys/kernel/iommu_groups/%d/devices/%s", out, group, name);
        snprintf(t, sizeof(t), "../../../%s", devpath);
        symlink_at(t, "%s/sys/bus/pci/devices/%s", out, name);
}

int main(int argc, char **argv)
{
        char pdir[PATH_MAX], edir[PATH_MAX], path[PATH_MAX];
        attr *pa, *ea;
        size_t np, ne;
        char *pdrv, *edrv;
        int domains, ports, group = 0;
        int64_t v;

        uint64_t first = 0;

        if (argc == 8 && parse_uint(argv[7], 16, 0xffff0000, &first) < 0) {
                fprintf(stderr, "gen-sysfs-tree: FIRST_DOMAIN is hex, at most ffff0000\n");
                return 2;
        }
        if (argc != 7 && argc != 8) {
                fprintf(stderr, "usage: %s TEMPLATE_ROOT PORT_ADDR ENDPOINT_ADDR OUT_ROOT DOMAINS PORTS\n",
                        argv[0]);
                return 2;
        }
        if (parse_int(argv[5], 1, 0xffff, &v) < 0 ||
            (domains = (int)v, parse_int(argv[6], 1, 248, &v) < 0)) {
                fprintf(stderr, "gen-sysfs-tree: DOMAINS 1..65535, PORTS 1..248\n");
                return 2;
        }
        ports = (int)v;
        snprintf(pdir, sizeof(pdir), "%s/sys/bus/pci/devices/%s", argv[1], argv[2]);
        snprintf(edir, sizeof(edir), "%s/sys/bus/pci/devices/%s", argv[1], argv[3]);
        np = load_attrs(pdir, &pa);
        ne = load_attrs(edir, &ea);
        pdrv = driver_of(pdir);
        edrv = driver_of(edir);
        snprintf(path, sizeof(path), "%s/sys/bus/pci/devices", argv[4]);
        mkdir_p(path);
        snprintf(path, sizeof(path), "%s/sys/class/iommu/dmar0", argv[4]);
        mkdir_p(path);
        for (unsigned d = (unsigned)first; d < (unsigned)first + (unsigned)domains; d++)
                for (int p = 0; p < ports; p++) {
                        /* Ports fill slots 1.. with 8 functions each; each port owns bus p+1. */
                        char pname[32], ename[32], ppath[256], epath[320];
                        int slot = 1 + p / 8, func = p % 8;

                        snprintf(pname, sizeof(pname), "%04x:00:%02x.%d", d, slot, func);
                        snprintf(ename, sizeof(ename), "%04x:%02x:00.0", d, p + 1);
                        snprintf(ppath, sizeof(ppath), "devices/pci%04x:00/%s", d, pname);
                        snprintf(epath, sizeof(epath), "%s/%s", ppath, ename);
                        make_device(argv[4], ppath, pname, "../../../", pa, np, pdrv, group++);
                        make_device(argv[4], epath, ename, "../../../../", ea, ne, edrv, group++);
                }
        printf("generated %d devices in %d IOMMU groups below %s\n", group, group, argv[4]);
        for (size_t i = 0; i < np; i++)
                free(pa[i].data);
        for (size_t i = 0; i < ne; i++)
                free(ea[i].data);
        free(pa);
        free(ea);
        free(pdrv);
        free(edrv);
        return 0;
}
