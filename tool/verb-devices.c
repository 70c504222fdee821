/* vfioctl devices: PCI devices by IOMMU group with a passthrough verdict (table, tree or JSON). */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json-writer.h"
#include "strv.h"
#include "tool.h"
#include "vfioctl/model.h"
#include "vfioctl/pciids.h"

static bool arg_gpu;
static bool arg_tree;

typedef struct names {
        char *vendor, *device, *subsystem, *class;
} names;

static void names_done(names *n)
{
        free(n->vendor);
        free(n->device);
        free(n->subsystem);
        free(n->class);
}

static void names_get(vfio_pci_names *db, const vfio_pci_dev *d, names *ret)
{
        *ret = (names){
                .vendor = vfio_pci_names_vendor(db, d->vendor),
                .device = vfio_pci_names_device(db, d->vendor, d->device),
                .subsystem = vfio_pci_names_subsystem(db, d->vendor, d->device, d->subsystem_vendor,
                                                      d->subsystem_device),
                .class = vfio_pci_names_class(db, d->class),
        };
}

/* "NVIDIA Corporation GP104 [GeForce GTX 1080]", as lspci prints it; "Device 1234" when unknown. */
static char *display_name(const vfio_pci_dev *d, const names *n)
{
        char *s;
        int r;

        if (n->vendor && n->device)
                r = asprintf(&s, "%s %s", n->vendor, n->device);
        else if (n->vendor)
                r = asprintf(&s, "%s Device %04x", n->vendor, (unsigned)d->device);
        else if (d->vendor >= 0 && d->device >= 0)
                r = asprintf(&s, "Device %04x:%04x", (unsigned)d->vendor, (unsigned)d->device);
        else
                r = asprintf(&s, "Unknown device");
        return r < 0 ? NULL : s;
}

static bool group_has_display(const vfio_model *m, const vfio_iommu_group *g)
{
        STRV_FOREACH(member, g->members) {
                const vfio_model_device *md = vfio_model_find_device(m, *member);

                if (md && vfio_pci_dev_is_display(md->pci))
                        return true;
        }
        return false;
}

static bool device_selected(const vfio_model *m, const vfio_model_device *md)
{
        const vfio_iommu_group *g;

        if (!arg_gpu)
                return true;
        if (vfio_pci_dev_is_display(md->pci))
                return true;
        /* --gpu keeps everything that shares a group with a display device: it travels with the GPU. */
        g = md->pci->iommu_group >= 0 ? vfio_iommu_find_group(m->iommu, md->pci->iommu_group) : NULL;
        return g && group_has_display(m, g);
}

/* ---- JSON ---- */

/*
 * Streamed with the JSON writer rather than built as a json-c tree: for thousands of functions the tree's
 * hash tables, key copies and frees cost more than reading sysfs. The bytes are json-c's (the golden files
 * were printed by it; tests/unit/test-json-writer.c holds the two together). Keys in this order are the
 * documented interface (vfioctl(1)).
 */
static void json_strv(json_writer *w, char *const *l)
{
        json_writer_array_begin(w);
        STRV_FOREACH(s, l)
                json_writer_string(w, *s);
        json_writer_array_end(w);
}

static void json_hex(json_writer *w, int32_t v, int digits)
{
        static const char hex[] = "0123456789abcdef";
        char buf[9];
        int n = digits;

        if (v < 0) {
                json_writer_null(w);
                return;
        }
        /* "%0*x" by hand: six of these per function add up over thousands of functions. */
        while (n < 8 && (uint32_t)v >> (4 * n))
                n++;
        for (int i = n - 1; i >= 0; i--, v >>= 4)
                buf[i] = hex[v & 0xf];
        buf[n] = 0;
        json_writer_string(w, buf);
}

static void json_int_or_null(json_writer *w, long long v, bool present)
{
        if (present)
                json_writer_int(w, v);
        else
                json_writer_null(w);
}

static void device_json(json_writer *w, const vfio_model_device *md, vfio_pci_names *db)
{
        const vfio_pci_dev *d = md->pci;
        _cleanup_free_ char *name = NULL;
        static const char *const header_names[] = { "endpoint", "bridge", "cardbus" };
        _cleanup_(names_done) names n = {};

        names_get(db, d, &n);
        name = display_name(d, &n);
        json_writer_object_begin(w);
        json_writer_key(w, "address");
        json_writer_string(w, d->name);
        json_writer_key(w, "vendor");
        json_hex(w, d->vendor, 4);
        json_writer_key(w, "device");
        json_hex(w, d->device, 4);
        json_writer_key(w, "subsystem_vendor");
        json_hex(w, d->subsystem_vendor, 4);
        json_writer_key(w, "subsystem_device");
        json_hex(w, d->subsystem_device, 4);
        json_writer_key(w, "revision");
        json_hex(w, d->revision, 2);
        json_writer_key(w, "class");
        json_hex(w, d->class, 6);
        json_writer_key(w, "name");
        json_writer_string(w, name);
        json_writer_key(w, "vendor_name");
        json_writer_string(w, n.vendor);
        json_writer_key(w, "device_name");
        json_writer_string(w, n.device);
        json_writer_key(w, "subsystem_name");
        json_writer_string(w, n.subsystem);
        json_writer_key(w, "class_name");
        json_writer_string(w, n.class);
        json_writer_key(w, "driver");
        json_writer_string(w, d->driver);
        json_writer_key(w, "driver_override");
        json_writer_string(w, d->driver_override);
        json_writer_key(w, "iommu_group");
        json_int_or_null(w, d->iommu_group, d->iommu_group >= 0);
        json_writer_key(w, "group_peers");
        json_strv(w, md->group_peers);
        json_writer_key(w, "header_type");
        json_writer_string(w, d->header >= 0 ? header_names[d->header] : NULL);
        json_writer_key(w, "bridge");
        json_writer_bool(w, vfio_pci_dev_is_bridge(d));
        json_writer_key(w, "boot_vga");
        if (d->boot_vga >= 0)
                json_writer_bool(w, d->boot_vga);
        else
                json_writer_null(w);
        json_writer_key(w, "reset_methods");
        if (d->reset_methods)
                json_strv(w, d->reset_methods);
        else
                json_writer_null(w);
        json_writer_key(w, "numa_node");
        json_int_or_null(w, d->numa_node, d->numa_node >= 0);
        json_writer_key(w, "link");
        if (d->link.max_width || d->link.max_speed || d->link.cur_width || d->link.cur_speed) {
                json_writer_object_begin(w);
                json_writer_key(w, "speed_mts");
                json_int_or_null(w, d->link.cur_speed, d->link.cur_speed);
                json_writer_key(w, "width");
                json_int_or_null(w, d->link.cur_width, d->link.cur_width);
                json_writer_key(w, "max_speed_mts");
                json_int_or_null(w, d->link.max_speed, d->link.max_speed);
                json_writer_key(w, "max_width");
                json_int_or_null(w, d->link.max_width, d->link.max_width);
                json_writer_object_end(w);
        } else
                json_writer_null(w);
        json_writer_key(w, "parents");
        json_strv(w, d->parents);
        json_writer_key(w, "verdict");
        json_writer_string(w, vfio_verdict_to_string(md->verdict));
        json_writer_key(w, "critical");
        json_strv(w, md->critical);
        json_writer_key(w, "blockers");
        json_strv(w, md->blockers);
        json_writer_object_end(w);
}

static int print_json(const vfio_model *m, vfio_pci_names *db)
{
        _cleanup_(json_writer_freep) json_writer *w = NULL;
        const char *text;
        size_t len;
        int r;

        r = json_writer_new(&w);
        if (r < 0)
                return r;
        json_writer_object_begin(w);
        json_writer_key(w, "iommu");
        json_writer_bool(w, vfio_iommu_enabled(m->iommu));
        json_writer_key(w, "iommu_units");
        json_strv(w, m->iommu->units);
        json_writer_key(w, "groups");
        json_writer_array_begin(w);
        for (size_t gi = 0; gi < m->iommu->n_groups; gi++) {
                const vfio_model_group *mg = &m->groups[gi];

                if (arg_gpu && !group_has_display(m, mg->group))
                        continue;
                json_writer_object_begin(w);
                json_writer_key(w, "id");
                json_writer_int(w, mg->group->id);
                json_writer_key(w, "type");
                json_writer_string(w, mg->group->type);
                json_writer_key(w, "verdict");
                json_writer_string(w, vfio_verdict_to_string(mg->verdict));
                json_writer_key(w, "devices");
                json_writer_array_begin(w);
                STRV_FOREACH(member, mg->group->members) {
                        const vfio_model_device *md = vfio_model_find_device(m, *member);

                        if (md)
                                device_json(w, md, db);
                }
                json_writer_array_end(w);
                json_writer_object_end(w);
        }
        json_writer_array_end(w);
        json_writer_key(w, "ungrouped");
        json_writer_array_begin(w);
        for (size_t i = 0; i < m->pci->n; i++)
                if (m->pci->devs[i]->iommu_group < 0 && device_selected(m, &m->devices[i]))
                        device_json(w, &m->devices[i], db);
        json_writer_array_end(w);
        json_writer_key(w, "problems");
        json_strv(w, m->problems);
        json_writer_object_end(w);
        r = json_writer_finish(w, &text, &len);
        if (r < 0)
                return r;
        /* One write for the whole document, as puts() of json-c's string did. */
        if (fwrite(text, 1, len, stdout) != len || putchar('\n') == EOF)
                return -EIO;
        return 0;
}

/* ---- table ---- */

typedef struct row {
        char *cells[6];
} row;

enum { COL_ADDR, COL_CLASS, COL_NAME, COL_DRIVER, COL_RESET, COL_LINK, N_COLS };

static char *speed_str(unsigned mts)
{
        char *s;

        if (asprintf(&s, "%u.%u", mts / 1000, (mts % 1000) / 100) < 0)
                return NULL;
        return s;
}

static char *link_cell(const vfio_pci_link *l)
{
        _cleanup_free_ char *cur = NULL, *max = NULL;
        char *s;
        int r;

        if (!l->max_width && !l->max_speed)
                return strdup("-");
        cur = speed_str(l->cur_speed);
        max = speed_str(l->max_speed);
        if (!cur || !max)
                return NULL;
        if (l->cur_width == l->max_width && l->cur_speed == l->max_speed)
                r = asprintf(&s, "x%u %s GT/s", l->cur_width, cur);
        else
                r = asprintf(&s, "x%u %s GT/s (max x%u %s)", l->cur_width, cur, l->max_width, max);
        return r < 0 ? NULL : s;
}

static int make_row(const vfio_model_device *md, vfio_pci_names *db, row *ret)
{
        const vfio_pci_dev *d = md->pci;
        _cleanup_free_ char *name = NULL;
        _cleanup_(names_done) names n = {};
        int r;

        names_get(db, d, &n);
        name = display_name(d, &n);
        ret->cells[COL_ADDR] = strdup(d->name);
        ret->cells[COL_CLASS] = strdup(n.class ? n.class : "Unknown class");
        r = asprintf(&ret->cells[COL_NAME], "%s [%04x:%04x]", name ? name : "?",
                     (unsigned)(d->vendor & 0xffff), (unsigned)(d->device & 0xffff));
        if (r < 0)
                ret->cells[COL_NAME] = NULL;
        ret->cells[COL_DRIVER] = strdup(d->driver ? d->driver : "-");
        if (d->reset_methods)
                ret->cells[COL_RESET] =
                        strv_length(d->reset_methods) ? strv_join(d->reset_methods, ",") : strdup("none");
        else
                ret->cells[COL_RESET] = strdup(d->has_reset ? "yes" : "-");
        ret->cells[COL_LINK] = link_cell(&d->link);
        for (int i = 0; i < N_COLS; i++)
                if (!ret->cells[i])
                        return -ENOMEM;
        return 0;
}

static void row_done(row *r)
{
        for (int i = 0; i < N_COLS; i++)
                free(r->cells[i]);
}

static const char *const column_titles[N_COLS] = { "ADDRESS", "CLASS", "NAME [VENDOR:DEVICE]",
                                                   "DRIVER",  "RESET", "LINK" };

static void print_row(const row *r, const size_t *w, const char *indent)
{
        printf("%s", indent);
        for (int i = 0; i < N_COLS; i++) {
                if (i == N_COLS - 1)
                        printf("%s\n", r->cells[i]);
                else
                        printf("%-*s  ", (int)w[i], r->cells[i]);
        }
}

static void group_heading(const vfio_model *m, const vfio_model_group *mg)
{
        printf("%sIOMMU group %d%s  ", tool_color(stdout, ANSI_BOLD), mg->group->id,
               tool_color(stdout, ANSI_RESET));
        switch (mg->verdict) {
        case VFIO_VERDICT_ALONE:
                printf("%spassable alone%s\n", tool_color(stdout, ANSI_GREEN),
                       tool_color(stdout, ANSI_RESET));
                break;
        case VFIO_VERDICT_WITH_PEERS: {
                _cleanup_strv_free_ char **eps = NULL;
                _cleanup_free_ char *j = NULL;

                STRV_FOREACH(member, mg->group->members) {
                        const vfio_model_device *md = vfio_model_find_device(m, *member);

                        if (!md || !vfio_pci_dev_is_bridge(md->pci))
                                (void)strv_extend(&eps, *member);
                }
                j = strv_join(eps, ", ");
                printf("%spassable together: %s%s\n", tool_color(stdout, ANSI_YELLOW), j ? j : "?",
                       tool_color(stdout, ANSI_RESET));
                break;
        }
        case VFIO_VERDICT_HOST_CRITICAL:
                printf("%sholds a host-critical device%s\n", tool_color(stdout, ANSI_RED),
                       tool_color(stdout, ANSI_RESET));
                STRV_FOREACH(member, mg->group->members) {
                        const vfio_model_device *md = vfio_model_find_device(m, *member);

                        if (md)
                                STRV_FOREACH(c, md->critical)
                                        printf("    %s: %s\n", *member, *c);
                }
                break;
        case VFIO_VERDICT_BRIDGE:
                printf("%sbridges only%s\n", tool_color(stdout, ANSI_DIM), tool_color(stdout, ANSI_RESET));
                break;
        case VFIO_VERDICT_NO_IOMMU:
                printf("\n");
                break;
        }
}

static const char *cpu_vendor_iommu_arg(const vfio_host *h)
{
        _cleanup_free_ char *cpuinfo = NULL;

        if (vfio_host_read_attr(h, "proc/cpuinfo", 8u << 20, &cpuinfo) >= 0 &&
            strstr(cpuinfo, "AuthenticAMD"))
                return "amd_iommu=on iommu=pt";
        return "intel_iommu=on iommu=pt";
}

static int print_table(const vfio_host *h, const vfio_model *m, vfio_pci_names *db)
{
        size_t w[N_COLS] = { 0 }, n = 0, shown = 0;
        row *rows;
        int r = 0;

        rows = calloc(m->pci->n + 1, sizeof(row));
        if (!rows)
                return -ENOMEM;
        for (size_t i = 0; i < m->pci->n; i++) {
                r = make_row(&m->devices[i], db, &rows[i]);
                n = i + 1;
                if (r < 0)
                        goto finish;
                if (!device_selected(m, &m->devices[i]))
                        continue;
                for (int c = 0; c < N_COLS; c++)
                        if (strlen(rows[i].cells[c]) > w[c])
                                w[c] = strlen(rows[i].cells[c]);
        }
        for (int c = 0; c < N_COLS; c++)
                if (strlen(column_titles[c]) > w[c])
                        w[c] = strlen(column_titles[c]);

        if (!vfio_iommu_enabled(m->iommu)) {
                printf("%sNo IOMMU groups:%s the kernel runs without an IOMMU, so no device can be passed through.\n"
                       "  Turn it on: enable VT-d (Intel) or AMD-Vi/IOMMU (AMD) in the firmware setup, add\n"
                       "  '%s' to the kernel command line, and reboot. 'vfioctl check' names the exact\n"
                       "  bootloader command for this system.\n\n",
                       tool_color(stdout, ANSI_RED ANSI_BOLD), tool_color(stdout, ANSI_RESET),
                       cpu_vendor_iommu_arg(h));
        }
        {
                row titles;

                memcpy(titles.cells, column_titles, sizeof(titles.cells));
                printf("%s", tool_color(stdout, ANSI_DIM));
                print_row(&titles, w, "  ");
                printf("%s\n", tool_color(stdout, ANSI_RESET));
        }
        for (size_t gi = 0; gi < m->iommu->n_groups; gi++) {
                const vfio_model_group *mg = &m->groups[gi];

                if (arg_gpu && !group_has_display(m, mg->group))
                        continue;
                if (shown++)
                        putchar('\n');
                group_heading(m, mg);
                STRV_FOREACH(member, mg->group->members) {
                        ssize_t i = vfio_pci_list_index(m->pci, *member);

                        if (i >= 0)
                                print_row(&rows[i], w, "  ");
                        else
                                printf("  %s  (not a PCI device)\n", *member);
                }
        }
        {
                bool heading = false;

                for (size_t i = 0; i < m->pci->n; i++) {
                        if (m->pci->devs[i]->iommu_group >= 0 || !device_selected(m, &m->devices[i]))
                                continue;
                        if (!heading) {
                                if (shown++)
                                        putchar('\n');
                                printf("%sNo IOMMU group%s\n", tool_color(stdout, ANSI_BOLD),
                                       tool_color(stdout, ANSI_RESET));
                                heading = true;
                        }
                        print_row(&rows[i], w, "  ");
                        STRV_FOREACH(c, m->devices[i].critical)
                                printf("    %shost needs it:%s %s\n", tool_color(stdout, ANSI_RED),
                                       tool_color(stdout, ANSI_RESET), *c);
                }
        }
        if (shown == 0)
                printf(arg_gpu ? "No display devices found.\n" : "No PCI devices found.\n");
finish:
        for (size_t i = 0; i < n; i++)
                row_done(&rows[i]);
        free(rows);
        return r;
}

/* ---- tree ---- */

static void print_subtree(const vfio_model *m, vfio_pci_names *db, size_t idx, const char *prefix, bool last,
                          bool top)
{
        const vfio_pci_dev *d = m->pci->devs[idx];
        _cleanup_free_ char *name = NULL, *child_prefix = NULL;
        size_t nchildren = 0, seen = 0;
        _cleanup_(names_done) names n = {};

        names_get(db, d, &n);
        name = display_name(d, &n);
        printf("%s%s%s %s [%04x:%04x]", prefix, top ? "" : (last ? "\\-" : "+-"), d->name, name ? name : "?",
               (unsigned)(d->vendor & 0xffff), (unsigned)(d->device & 0xffff));
        if (d->iommu_group >= 0)
                printf("  group %d", d->iommu_group);
        printf("  %s\n", d->driver ? d->driver : "-");

        if (asprintf(&child_prefix, "%s%s", prefix, top ? "" : (last ? "  " : "| ")) < 0)
                return;
        for (size_t i = 0; i < m->pci->n; i++) {
                char *const *p = m->pci->devs[i]->parents;
                size_t np = strv_length(p);

                if (np > 0 && strcmp(p[np - 1], d->name) == 0)
                        nchildren++;
        }
        for (size_t i = 0; i < m->pci->n; i++) {
                char *const *p = m->pci->devs[i]->parents;
                size_t np = strv_length(p);

                if (np > 0 && strcmp(p[np - 1], d->name) == 0)
                        print_subtree(m, db, i, child_prefix, ++seen == nchildren, false);
        }
}

static int print_tree(const vfio_model *m, vfio_pci_names *db)
{
        for (size_t i = 0; i < m->pci->n; i++) {
                char *const *p = m->pci->devs[i]->parents;
                size_t np = strv_length(p);

                /* Roots: no parent, or a parent we could not read (keep orphans visible). */
                if (np == 0 || vfio_pci_list_index(m->pci, p[np - 1]) < 0)
                        print_subtree(m, db, i, "", true, true);
        }
        return 0;
}

int verb_devices(int argc, char **argv)
{
        enum { OPT_GPU = 0x100, OPT_TREE, OPT_JSON };
        static const struct option options[] = {
                { "gpu", no_argument, NULL, OPT_GPU },
                { "tree", no_argument, NULL, OPT_TREE },
                { "json", no_argument, NULL, OPT_JSON },
                { "help", no_argument, NULL, 'h' },
                {},
        };
        _cleanup_(vfio_host_freep) vfio_host *h = NULL;
        _cleanup_(vfio_model_freep) vfio_model *m = NULL;
        _cleanup_(vfio_pci_names_freep) vfio_pci_names *db = NULL;
        int c, r;

        while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0)
                switch (c) {
                case OPT_GPU:
                        arg_gpu = true;
                        break;
                case OPT_TREE:
                        arg_tree = true;
                        break;
                case OPT_JSON:
                        arg_json = true;
                        break;
                case 'h':
                        printf("vfioctl devices [--gpu] [--tree] [--json]\n\n"
                               "  --gpu    only display devices and the groups they are in\n"
                               "  --tree   the PCI hierarchy with bridges, groups and drivers\n"
                               "  --json   the listing as JSON (keys documented in vfioctl(1))\n");
                        return EXIT_OK;
                default:
                        return EXIT_USAGE;
                }
        if (tool_check_arity(argc - optind) < 0)
                return EXIT_USAGE;
        if (arg_tree && arg_json) {
                tool_error(
                        "devices: --tree and --json do not combine; the JSON carries each device's parents");
                return EXIT_USAGE;
        }
        if (tool_open_host(&h) < 0 || tool_load_model(h, &m) < 0)
                return EXIT_FAILURE_GENERIC;
        r = vfio_pci_names_new(NULL, &db);
        if (r < 0) {
                tool_error("out of memory");
                return EXIT_FAILURE_GENERIC;
        }
        if (arg_json)
                r = print_json(m, db);
        else if (arg_tree)
                r = print_tree(m, db);
        else
                r = print_table(h, m, db);
        if (r < 0) {
                tool_error("devices: %s", strerror(-r));
                return EXIT_FAILURE_GENERIC;
        }
        return EXIT_OK;
}
