/* Fixture variants: copy a captured kernel tree, then change only what a test case needs. */
#pragma once

#include <stdbool.h>
#include <sys/types.h>

/*
 * Clones tests/data/sysfs/<base> into a temporary directory (tmpfs when there is one, or
 * $VFIOCTL_VARIANT_TMP) and recreates its .empty-dirs. variant_free removes it.
 */
char *variant_new(const char *base);
void variant_free(char *dir);
/* Removes <root>/<rel> (recursively); refuses anything that is not inside a variant. */
void variant_rmtree(const char *root, const char *rel);
void variant_unlink(const char *root, const char *rel);
/* Writes <root>/<rel>, creating parent directories (a file the kernel or a package would have there). */
void variant_write(const char *root, const char *rel, const char *content);
/* Appends a line (a newline is added) to <root>/<rel>, creating it when absent. */
void variant_append(const char *root, const char *rel, const char *line);
/* Replaces the first occurrence of from with to in <root>/<rel>; aborts when from is not there. */
void variant_replace(const char *root, const char *rel, const char *from, const char *to);
/* Copies <root>/<from> to <root>/<to> with cp -a (a sibling of a kernel directory, e.g. a second NUMA node).
 */
void variant_copy(const char *root, const char *from, const char *to);
void variant_chmod(const char *root, const char *rel, mode_t mode);
/* Rewrites attributes of sys/bus/pci/devices/<addr>: "vendor" gets "0x10de" etc. */
void variant_pci_attr(const char *root, const char *addr, const char *attr, const char *value);
/* Rewrites vendor, device and (when class != 0) class, as the kernel formats them. */
void variant_pci_ids(const char *root, const char *addr, unsigned vendor, unsigned device, unsigned class);
/* Points the device's driver link at another driver (same relative depth as the kernel's link). */
void variant_pci_driver(const char *root, const char *addr, const char *driver);
