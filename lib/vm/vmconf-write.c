/*
 * The one config writer: a VM model back to vfioctl.conf(5) text, walking the parser's own key and
 * section tables (vmconf-keys.h), so every key the parser knows can be written and read back equal.
 * `vfioctl create` adds the guide: what the main keys do and examples of keys left out.
 */
#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cleanup.h"
#include "log.h"
#include "strv.h"
#include "vfioctl/vmconf.h"
#include "vmconf-keys.h"

/*
 * The guide of `create`: comment lines before a key (or, without a key, after a section's header),
 * "# key = example" for a key left out, and lines after all items of a section (even when it has none).
 * "@NAME@" stands for the VM's name.
 */
typedef struct guide {
        const char *section, *key;
        const char *comment, *example, *after;
} guide;

static const guide guides[] = {
        { "vm", "os", .comment = "windows sets Windows defaults: rtc_localtime, hpet = no, [cpu] hyperv" },
        { "vm", "machine",
          .comment = "q35 (PCIe, default) or i440fx (older guests, some GPUs behind PCIe switches)" },
        { "vm", "accel", .comment = "kvm, or tcg (emulation, slow; needs [cpu] model = max)" },
        { "vm", "max_ram_below_4g", .example = "1G   (works around PCIe bridges that mishandle high MMIO)" },
        { "vm", "user",
          .comment = "The account QEMU runs as when root starts the VM (vfioctl start, enable)",
          .example = "NAME   (the account QEMU runs as; vfioctl start as root requires it)" },
        { "vm", "desktop_user",
          .comment =
                  "The user at the screen: hears the VM ([audio] server = desktop) and runs looking-glass-client" },
        { "vm", "debugcon", .example = "/tmp/@NAME@-ovmf.log   (OVMF's debug log)" },
        { "firmware", NULL,
          .comment = "UEFI (ovmf) is what GPU passthrough needs: the card's UEFI GOP ROM runs under it" },
        { "firmware", "code",
          .example =
                  "/usr/share/OVMF/OVMF_CODE_4M.fd   (default: Debian's OVMF; OVMF_CODE_4M.secboot.fd with secure_boot)" },
        { "firmware", "vars_template",
          .example = "/usr/share/OVMF/OVMF_VARS_4M.fd   (default; OVMF_VARS_4M.ms.fd with secure_boot)" },
        { "firmware", "vars",
          .example = "per-VM copy of vars_template (default: the VM's state directory)" },
        { "tpm", NULL, .comment = "TPM 2.0 through swtpm (Windows 11 requires it)" },
        { "cpu", "model", .comment = "host = host-passthrough (KVM); with accel = tcg use max" },
        { "cpu", "sockets", .comment = "Desktop Windows uses at most 2 sockets: keep 1 and raise cores" },
        { "cpu", "hide_kvm",
          .comment = "hide_kvm = yes clears the KVM signature (old NVIDIA drivers: code 43)" },
        { "cpu", "pin",
          .comment = "Host CPU per vCPU, planned from this host's topology and the other VMs' pins\n"
                     "(vfioctl.conf(5)); why, line by line. The launcher applies it." },
        { "memory", "hugepages",
          .comment = "none, 2M or 1G: reserve them first (vm.nr_hugepages or hugepagesz= hugepages=)" },
        { "memory", "locked",
          .comment = "locked = yes keeps guest memory out of swap (needs RLIMIT_MEMLOCK)" },
        { "display", NULL,
          .comment =
                  "none: the passed GPU is the display; virtio-vga/qxl/std with spice or vnc for a window" },
        { "audio", NULL, .comment = "pa also serves PipeWire (pipewire-pulse)" },
        { "gpu", "device",
          .comment =
                  "PCI address, vendor:device, a name pattern, or the identity vfioctl records\n"
                  "(IDS@TOPOLOGY-PATH: the same card when buses are renumbered); see: vfioctl devices --gpu" },
        { "gpu", "functions",
          .comment = "auto: every function of the card's slot (HDMI audio, USB-C) goes along" },
        { "gpu", "x_vga", .comment = "x_vga = yes only for legacy VGA (SeaBIOS, old cards)" },
        { "gpu", "romfile", .example = "/path/to/vbios.rom" },
        { "input", NULL,
          .after = "Pass host keyboard/mouse with evdev (left+right Ctrl toggles):\n[input \"keyboard\"]\n"
                   "type = evdev\nevdev = /dev/input/by-id/YOUR-event-kbd\ngrab_all = yes\nrepeat = yes\n"
                   "grab_toggle = ctrl-ctrl" },
        { "disk", "bus",
          .comment =
                  "virtio-blk or virtio-scsi need the virtio drivers in Windows; sata works out of the box" },
        { "net", "type", .comment = "user (no setup), bridge (qemu-bridge-helper) or tap" },
        { "net", "hostfwd", .example = "tcp::24800-:24800   (e.g. Synergy/Barrier)" },
};

static const guide *guide_of(const char *section, const char *key)
{
        for (size_t i = 0; i < ELEMENTSOF(guides); i++)
                if (strcmp(guides[i].section, section) == 0 &&
                    (key ? guides[i].key && strcmp(guides[i].key, key) == 0 : !guides[i].key))
                        return &guides[i];
        return NULL;
}

typedef struct writer {
        FILE *f;
        const vm_config *c;
        bool guide;
        bool started; /* a section was written: the next one starts after a blank line */
        int error;
} writer;

/* Each line of text as a comment (empty lines left out); "@NAME@" becomes the VM's name. */
static void comment(writer *w, const char *text)
{
        const char *p = text;

        while (p && *p) {
                const char *eol = strchr(p, '\n'), *end = eol ? eol : p + strlen(p);

                if (end == p) {
                        p = eol ? eol + 1 : NULL;
                        continue;
                }
                fputs("# ", w->f);
                for (const char *q = p; q < end; q++)
                        if (strncmp(q, "@NAME@", 6) == 0 && q + 6 <= end) {
                                fputs(w->c->name, w->f);
                                q += 5;
                        } else
                                fputc(*q, w->f);
                fputc('\n', w->f);
                p = eol ? eol + 1 : NULL;
        }
}

/* What one line of the file can carry back to the parser unchanged (inih reads line by line). */
static bool writable(const char *s, bool word)
{
        if (!s)
                return false;
        for (const char *p = s; *p; p++)
                if ((unsigned char)*p < 0x20 || *p == 0x7f || (word && *p == ' '))
                        return false;
        return true;
}

/* Sizes as the parser reads them: the largest binary unit that divides evenly. */
static void size_str(uint64_t v, char buf[static 32])
{
        if (v && v % (1ULL << 40) == 0)
                snprintf(buf, 32, "%" PRIu64 "T", v >> 40);
        else if (v && v % (1ULL << 30) == 0)
                snprintf(buf, 32, "%" PRIu64 "G", v >> 30);
        else if (v && v % (1ULL << 20) == 0)
                snprintf(buf, 32, "%" PRIu64 "M", v >> 20);
        else if (v % 1024 == 0)
                snprintf(buf, 32, "%" PRIu64 "K", v >> 10);
        else
                snprintf(buf, 32, "%" PRIu64, v);
}

static const char *string_at(const void *item, const key_def *k)
{
        return *(char *const *)((const char *)item + k->offset);
}

static char *const *list_at(const void *item, const key_def *k)
{
        return *(char *const *const *)((const char *)item + k->offset);
}

/* Whether k is written for this item: by its own rule, always, or when it differs from dflt. */
static bool key_written(const vm_config *c, const key_def *k, const void *item, const void *dflt)
{
        const char *p = (const char *)item + k->offset, *d = (const char *)dflt + k->offset;

        if (k->written)
                return k->written(c, item);
        switch (k->type) {
        case K_STRING:
        case K_PATH:
        case K_UUID:
        case K_MAC:
        case K_WORD:
                return string_at(item, k) && (k->write == W_ALWAYS || !string_at(dflt, k) ||
                                              strcmp(string_at(item, k), string_at(dflt, k)) != 0);
        case K_LIST:
                return list_at(item, k) && list_at(item, k)[0];
        case K_BOOL:
                return k->write == W_ALWAYS || *(const bool *)p != *(const bool *)d;
        case K_UINT:
        case K_HEX:
                return k->write == W_ALWAYS || *(const unsigned *)p != *(const unsigned *)d;
        case K_SIZE:
                return k->write == W_ALWAYS || *(const uint64_t *)p != *(const uint64_t *)d;
        case K_ENUM:
                return k->write == W_ALWAYS || *(const int *)p != *(const int *)d;
        case K_USB_ID:
                return ((const vm_usb *)item)->has_id;
        case K_FUNCTIONS:
                return ((const vm_pci *)item)->functions_auto ||
                       (((const vm_pci *)item)->functions && ((const vm_pci *)item)->functions[0]);
        }
        return false;
}

/* A list as one line: words separated by blanks, so a word may hold none. */
static int list_value(char *const *l, char **ret)
{
        STRV_FOREACH(w, (char **)l)
                if (!**w || !writable(*w, true))
                        return log_debug_errno(-EINVAL, "list word '%s' cannot be written as one word", *w);
        *ret = strv_join((char **)l, " ");
        return *ret ? 0 : -ENOMEM;
}

/* The text after "key = ". */
static int key_value(const key_def *k, const void *item, char **ret)
{
        const char *p = (const char *)item + k->offset;
        char buf[32];
        int e;

        switch (k->type) {
        case K_STRING:
        case K_PATH:
        case K_UUID:
        case K_MAC:
        case K_WORD:
                if (!writable(string_at(item, k), false))
                        return log_debug_errno(-EINVAL, "%s: '%s' holds a control character", k->key,
                                               string_at(item, k));
                *ret = strdup(string_at(item, k));
                return *ret ? 0 : -ENOMEM;
        case K_LIST:
                return list_value(list_at(item, k), ret);
        case K_BOOL:
                *ret = strdup(*(const bool *)p ? "yes" : "no");
                return *ret ? 0 : -ENOMEM;
        case K_UINT:
                snprintf(buf, sizeof(buf), "%u", *(const unsigned *)p);
                break;
        case K_HEX:
                snprintf(buf, sizeof(buf), "0x%02x", *(const unsigned *)p);
                break;
        case K_SIZE:
                size_str(*(const uint64_t *)p, buf);
                break;
        case K_ENUM:
                e = *(const int *)p;
                for (int i = 0; i <= e; i++)
                        if (!k->values[i])
                                return log_debug_errno(-EINVAL, "%s: %d is no value of its enum", k->key, e);
                *ret = strdup(k->values[e]);
                return *ret ? 0 : -ENOMEM;
        case K_USB_ID:
                snprintf(buf, sizeof(buf), "%04x:%04x", ((const vm_usb *)item)->vendor,
                         ((const vm_usb *)item)->product);
                break;
        case K_FUNCTIONS:
                if (((const vm_pci *)item)->functions_auto) {
                        *ret = strdup("auto");
                        return *ret ? 0 : -ENOMEM;
                }
                return list_value((char *const *)((const vm_pci *)item)->functions, ret);
        }
        *ret = strdup(buf);
        return *ret ? 0 : -ENOMEM;
}

/* One section: its header when it has a key to write or is on by itself ([tpm]), then its keys. */
static void write_section(writer *w, const section_def *s, const char *name, const void *item,
                          const void *dflt, bool on)
{
        size_t nkeys;
        const key_def *keys = vm_config_key_defs(&nkeys);
        const guide *g;
        bool any = on;

        for (size_t i = 0; i < nkeys && !any; i++)
                any = strcmp(keys[i].section, s->name) == 0 && key_written(w->c, &keys[i], item, dflt);
        if (!any || w->error)
                return;
        if (!name)
                fprintf(w->f, "%s[%s]\n", w->started ? "\n" : "", s->name);
        else if (s->name_optional && strcmp(name, s->name) == 0)
                fprintf(w->f, "%s[%s]\n", w->started ? "\n" : "", s->name);
        else
                fprintf(w->f, "%s[%s \"%s\"]\n", w->started ? "\n" : "", s->name, name);
        w->started = true;
        if (w->guide && (g = guide_of(s->name, NULL)) && g->comment)
                comment(w, g->comment);
        for (size_t i = 0; i < nkeys && !w->error; i++) {
                const key_def *k = &keys[i];
                _cleanup_free_ char *v = NULL;

                if (strcmp(k->section, s->name) != 0)
                        continue;
                g = w->guide ? guide_of(s->name, k->key) : NULL;
                if (!key_written(w->c, k, item, dflt)) {
                        if (g && g->example) {
                                _cleanup_free_ char *line = NULL;

                                if (asprintf(&line, "%s = %s", k->key, g->example) < 0)
                                        w->error = -ENOMEM;
                                else
                                        comment(w, line);
                        }
                        continue;
                }
                w->error = key_value(k, item, &v);
                if (w->error < 0)
                        break;
                if (g && g->comment)
                        comment(w, g->comment);
                /* create's reasons for its CPU plan sit right above the plan. */
                if (w->guide && strcmp(k->section, "cpu") == 0 && strcmp(k->key, "pin") == 0)
                        STRV_FOREACH(note, w->c->cpu.pin_notes)
                                comment(w, *note);
                fprintf(w->f, "%s = %s\n", k->key, v);
        }
}

static void write_sections(writer *w)
{
        _cleanup_(vm_config_freep) vm_config *defaults = NULL;
        size_t nsec;
        const section_def *secs = vm_config_section_defs(&nsec);

        w->error = vm_config_new(w->c->name, &defaults);
        for (size_t i = 0; i < nsec && !w->error; i++) {
                const section_def *s = &secs[i];
                const char *base = (const char *)w->c + s->cfg_offset;
                const guide *g = w->guide ? guide_of(s->name, NULL) : NULL;

                if (!s->repeated) {
                        bool on = s->has_enabled && *(const bool *)(base + s->enabled_offset);

                        if (!s->has_enabled || on)
                                write_section(w, s, NULL, base, (const char *)defaults + s->cfg_offset, on);
                } else {
                        const char *items = *(char *const *)base;
                        size_t n = *(const size_t *)((const char *)w->c + s->count_offset);
                        _cleanup_free_ void *dflt = malloc(s->item_size);

                        if (!dflt) {
                                w->error = -ENOMEM;
                                break;
                        }
                        vm_config_item_defaults(s, dflt);
                        for (size_t j = 0; j < n; j++) {
                                const char *item = items + j * s->item_size;

                                /* Every item struct starts with char *name. */
                                write_section(w, s, *(char *const *)item, item, dflt, true);
                        }
                }
                if (g && g->after) {
                        fputc('\n', w->f);
                        comment(w, g->after);
                }
        }
}

int vm_config_write(const vm_config *c, unsigned flags, const char *header, char **ret)
{
        _cleanup_free_ char *buf = NULL, *guide_header = NULL;
        writer w = { .c = c, .guide = flags & VM_CONFIG_WRITE_GUIDE };
        size_t size = 0;

        assert(c);
        assert(ret);

        if (!header && w.guide) {
                if (asprintf(&guide_header,
                             "VM \"%s\" for vfioctl. Every key is described in vfioctl.conf(5).\n"
                             "Check with: vfioctl validate %s    Show the QEMU command: vfioctl cmdline %s",
                             c->name, c->name, c->name) < 0)
                        return -ENOMEM;
                header = guide_header;
        }
        w.f = open_memstream(&buf, &size);
        if (!w.f)
                return -ENOMEM;
        if (header) {
                comment(&w, header);
                fputc('\n', w.f);
        }
        write_sections(&w);
        if (fclose(w.f) != 0 && !w.error)
                w.error = -ENOMEM;
        if (w.error)
                return w.error;
        *ret = TAKE_PTR(buf);
        return 0;
}
