/*
 * Fuzz target: a PCI device directory whose attributes and links hold arbitrary content. The input is
 * split on newlines into vendor, device, class, revision, current_link_speed, max_link_width, numa_node,
 * boot_vga, reset_method and the targets of the iommu_group and driver links.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vfioctl/host.h"
#include "vfioctl/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char root[64];

static void put(const char *rel, const char *content, size_t len)
{
        char path[256];
        int fd;

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        unlink(path);
        fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (fd < 0)
                abort();
        if (len && write(fd, content, len) != (ssize_t)len)
                abort();
        close(fd);
}

static void link_to(const char *rel, const char *target, size_t len)
{
        char path[256], t[512];

        snprintf(path, sizeof(path), "%s/%s", root, rel);
        unlink(path);
        if (len == 0 || len >= sizeof(t))
                return;
        memcpy(t, target, len);
        t[len] = 0;
        if (memchr(t, 0, len))
                return; /* a symlink target cannot hold a NUL; the kernel never makes one */
        (void)symlink(t, path);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
        (void)st;
        (void)type;
        (void)ftw;
        (void)remove(path);
        return 0;
}

/* The tree is the fuzzer's own: gone when it exits, so runs do not pile up in /tmp. */
static void remove_root(void)
{
        (void)nftw(root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void setup_once(void)
{
        char p[256];

        if (root[0])
                return;
        snprintf(root, sizeof(root), "/tmp/vfioctl-fuzz-%d", (int)getpid());
        atexit(remove_root);
        snprintf(p, sizeof(p), "%s/sys/devices/pci0000:00/0000:00:01.0", root);
        for (char *c = p + 1; *c; c++)
                if (*c == '/') {
                        *c = 0;
                        mkdir(p, 0755);
                        *c = '/';
                }
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/sys/bus", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/sys/bus/pci", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/sys/bus/pci/devices", root);
        mkdir(p, 0755);
        snprintf(p, sizeof(p), "%s/sys/kernel/iommu_groups/3/devices", root);
        for (char *c = p + 1; *c; c++)
                if (*c == '/') {
                        *c = 0;
                        mkdir(p, 0755);
                        *c = '/';
                }
        mkdir(p, 0755);
        link_to("sys/bus/pci/devices/0000:00:01.0", "../../../devices/pci0000:00/0000:00:01.0", 40);
        link_to("sys/kernel/iommu_groups/3/devices/0000:00:01.0",
                "../../../../devices/pci0000:00/0000:00:01.0", 43);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
        static const char *const attrs[] = {
                "vendor",         "device",    "class",    "revision",    "current_link_speed",
                "max_link_width", "numa_node", "boot_vga", "reset_method"
        };
        const char *p = (const char *)data, *end = p + size;
        vfio_host *h = NULL;
        vfio_model *m = NULL;
        size_t field = 0;

        setup_once();
        while (field < sizeof(attrs) / sizeof(attrs[0]) + 2) {
                const char *nl = memchr(p, '\n', (size_t)(end - p));
                size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
                char rel[128];

                if (field < sizeof(attrs) / sizeof(attrs[0])) {
                        snprintf(rel, sizeof(rel), "sys/devices/pci0000:00/0000:00:01.0/%s", attrs[field]);
                        put(rel, p, len);
                } else if (field == sizeof(attrs) / sizeof(attrs[0]))
                        link_to("sys/devices/pci0000:00/0000:00:01.0/iommu_group", p, len);
                else
                        link_to("sys/devices/pci0000:00/0000:00:01.0/driver", p, len);
                field++;
                p = nl ? nl + 1 : end;
        }
        if (vfio_host_open(root, &h) < 0)
                abort();
        if (vfio_model_load(h, &m) >= 0) {
                /* One device, whatever its attributes say. */
                if (m->pci->n != 1)
                        abort();
                vfio_model_free(m);
        }
        vfio_host_free(h);
        return 0;
}
