/* Keyboards and mice: evdev devices with their capabilities, and the relay's pure event logic (toggle, key
 * state). */
#include "vfioctl/input.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "fileio.h"
#include "log.h"
#include "parse-util.h"
#include "strv.h"

#define LONG_BITS (8 * sizeof(unsigned long))

int vfio_input_parse_bitmap(const char *s, unsigned long *bits, size_t nbits)
{
        _cleanup_strv_free_ char **words = NULL;
        size_t n, nlongs = VFIO_INPUT_LONGS(nbits);
        unsigned long tmp[VFIO_INPUT_LONGS(KEY_CNT)] = {};
        int r;

        assert(s);
        assert(bits);

        if (nlongs > ELEMENTSOF(tmp))
                return -EINVAL;
        r = strv_split(s, " \n", &words);
        if (r < 0)
                return r;
        n = strv_length(words);
        /* input_print_bitmap(): most significant long first, each "%lx" (64-bit kernel longs here). */
        for (size_t i = 0; i < n; i++) {
                const char *w = words[n - 1 - i];
                uint64_t v;

                if (strlen(w) > 2 * sizeof(unsigned long))
                        return -EINVAL;
                r = parse_uint(w, 16, UINT64_MAX, &v);
                if (r < 0 || (w[0] == '0' && w[1] == 'x'))
                        return -EINVAL;
                if (i >= nlongs) {
                        if (v != 0)
                                return -ERANGE;
                        continue;
                }
                tmp[i] = (unsigned long)v;
        }
        memcpy(bits, tmp, nlongs * sizeof(unsigned long));
        return 0;
}

unsigned vfio_input_caps_kinds(const vfio_input_caps *c)
{
        unsigned kinds = 0;
        bool letters = true;

        assert(c);

        /* udev's input_id (builtin-input_id.c test_key): a keyboard has every key from KEY_ESC to KEY_D. */
        for (unsigned k = KEY_ESC; k <= KEY_D; k++)
                letters = letters && vfio_input_test_bit(c->key, k);
        if (vfio_input_test_bit(c->ev, EV_KEY) && letters)
                kinds |= VFIO_INPUT_KEYBOARD;
        if (vfio_input_test_bit(c->ev, EV_REL) && vfio_input_test_bit(c->rel, REL_X) &&
            vfio_input_test_bit(c->rel, REL_Y) && vfio_input_test_bit(c->key, BTN_LEFT))
                kinds |= VFIO_INPUT_MOUSE;
        if (vfio_input_test_bit(c->ev, EV_ABS) && vfio_input_test_bit(c->abs, ABS_X) &&
            vfio_input_test_bit(c->abs, ABS_Y) &&
            (vfio_input_test_bit(c->key, BTN_TOUCH) || vfio_input_test_bit(c->key, BTN_LEFT)))
                kinds |= VFIO_INPUT_TABLET;
        return kinds;
}

int vfio_input_caps_from_fd(int fd, vfio_input_caps *ret)
{
        vfio_input_caps c = {};

        assert(ret);

        /* Documentation/input/input-programming.rst, EVIOCGBIT(ev, len): one bitmap per event type. */
        if (ioctl(fd, EVIOCGBIT(0, sizeof(c.ev)), c.ev) < 0)
                return -errno;
        if (vfio_input_test_bit(c.ev, EV_KEY) && ioctl(fd, EVIOCGBIT(EV_KEY, sizeof(c.key)), c.key) < 0)
                return -errno;
        if (vfio_input_test_bit(c.ev, EV_REL) && ioctl(fd, EVIOCGBIT(EV_REL, sizeof(c.rel)), c.rel) < 0)
                return -errno;
        if (vfio_input_test_bit(c.ev, EV_ABS) && ioctl(fd, EVIOCGBIT(EV_ABS, sizeof(c.abs)), c.abs) < 0)
                return -errno;
        if (vfio_input_test_bit(c.ev, EV_MSC) && ioctl(fd, EVIOCGBIT(EV_MSC, sizeof(c.msc)), c.msc) < 0)
                return -errno;
        *ret = c;
        return 0;
}

static int caps_from_sysfs(const vfio_host *h, const char *event, vfio_input_caps *ret)
{
        static const struct {
                const char *file;
                size_t offset, nbits;
                bool required;
        } maps[] = {
                { "ev", offsetof(vfio_input_caps, ev), EV_CNT, true },
                { "key", offsetof(vfio_input_caps, key), KEY_CNT, false },
                { "rel", offsetof(vfio_input_caps, rel), REL_CNT, false },
                { "abs", offsetof(vfio_input_caps, abs), ABS_CNT, false },
                { "msc", offsetof(vfio_input_caps, msc), MSC_CNT, false },
        };
        vfio_input_caps c = {};
        int r;

        for (size_t i = 0; i < ELEMENTSOF(maps); i++) {
                _cleanup_free_ char *path = NULL, *v = NULL;

                if (asprintf(&path, "sys/class/input/%s/device/capabilities/%s", event, maps[i].file) < 0)
                        return -ENOMEM;
                r = vfio_host_read_attr(h, path, ATTR_MAX_DEFAULT, &v);
                if (r == -ENOENT && !maps[i].required)
                        continue;
                if (r < 0)
                        return r;
                r = vfio_input_parse_bitmap(v, (unsigned long *)((char *)&c + maps[i].offset),
                                            maps[i].nbits);
                if (r < 0)
                        return log_debug_errno(r, "%s: bad bitmap '%s'", path, v);
        }
        *ret = c;
        return 0;
}

void vfio_input_devs_free(vfio_input_dev *d, size_t n)
{
        for (size_t i = 0; d && i < n; i++) {
                free(d[i].event);
                free(d[i].name);
                free(d[i].phys);
                strv_free(d[i].links);
        }
        free(d);
}

/* Adds "<sub>/<link>" for every link in dev/input/<sub> that points at event. */
static int collect_links(const vfio_host *h, const char *sub, char **entries, const char *event,
                         char ***links)
{
        STRV_FOREACH(e, entries) {
                _cleanup_free_ char *path = NULL, *target = NULL, *rel = NULL;
                const char *base;
                int r;

                if (asprintf(&path, "dev/input/%s/%s", sub, *e) < 0)
                        return -ENOMEM;
                if (vfio_host_read_link(h, path, &target) < 0)
                        continue;
                base = strrchr(target, '/');
                base = base ? base + 1 : target;
                if (strcmp(base, event) != 0)
                        continue;
                if (asprintf(&rel, "%s/%s", sub, *e) < 0)
                        return -ENOMEM;
                r = strv_push(links, rel);
                if (r < 0)
                        return r;
                rel = NULL;
        }
        return 0;
}

int vfio_input_list(const vfio_host *h, bool all, vfio_input_dev **ret, size_t *ret_n)
{
        _cleanup_strv_free_ char **events = NULL, **by_id = NULL, **by_path = NULL;
        vfio_input_dev *a = NULL;
        size_t n = 0;
        int r;

        assert(h);
        assert(ret);
        assert(ret_n);

        r = vfio_host_list_dir(h, "sys/class/input", 4096, &events);
        if (r == -ENOENT) {
                *ret = NULL;
                *ret_n = 0;
                return 0;
        }
        if (r < 0)
                return r;
        (void)vfio_host_list_dir(h, "dev/input/by-id", 4096, &by_id);
        (void)vfio_host_list_dir(h, "dev/input/by-path", 4096, &by_path);
        STRV_FOREACH(e, events) {
                _cleanup_free_ char *p = NULL, *node = NULL;
                _cleanup_close_ int fd = -EBADF;
                vfio_input_dev d = {};
                uint64_t num;

                if (strncmp(*e, "event", 5) != 0 || parse_uint(*e + 5, 10, 1 << 20, &num) < 0)
                        continue;
                d.event = strdup(*e);
                if (!d.event)
                        goto oom;
                if (asprintf(&p, "sys/class/input/%s/device/name", *e) < 0)
                        goto oom;
                (void)vfio_host_read_attr(h, p, ATTR_MAX_DEFAULT, &d.name);
                free(p);
                p = NULL;
                if (asprintf(&p, "sys/class/input/%s/device/phys", *e) < 0)
                        goto oom;
                (void)vfio_host_read_attr(h, p, ATTR_MAX_DEFAULT, &d.phys);
                if (asprintf(&node, "dev/input/%s", *e) < 0)
                        goto oom;
                /* The live device answers EVIOCGBIT; a fixture (or no read access) has sysfs only. */
                if (vfio_host_is_live(h))
                        fd = vfio_host_open_path(h, node, O_RDONLY | O_NONBLOCK | O_NOCTTY);
                r = fd >= 0 ? vfio_input_caps_from_fd(fd, &d.caps) : -EBADF;
                if (r < 0)
                        r = caps_from_sysfs(h, *e, &d.caps);
                if (r < 0)
                        log_debug("%s: no capabilities: %s", *e, strerror(-r));
                d.kinds = r < 0 ? 0 : vfio_input_caps_kinds(&d.caps);
                d.links = calloc(1, sizeof(char *));
                if (!d.links || collect_links(h, "by-id", by_id, *e, &d.links) < 0 ||
                    collect_links(h, "by-path", by_path, *e, &d.links) < 0) {
                        free(d.event);
                        free(d.name);
                        free(d.phys);
                        strv_free(d.links);
                        goto oom;
                }
                if (!all && d.kinds == 0) {
                        free(d.event);
                        free(d.name);
                        free(d.phys);
                        strv_free(d.links);
                        continue;
                }
                {
                        vfio_input_dev *x = realloc(a, (n + 1) * sizeof(*a));

                        if (!x) {
                                free(d.event);
                                free(d.name);
                                free(d.phys);
                                strv_free(d.links);
                                goto oom;
                        }
                        a = x;
                        a[n++] = d;
                }
        }
        /* Natural order: event2 before event10. */
        for (size_t i = 1; i < n; i++)
                for (size_t j = i; j > 0 && (strlen(a[j - 1].event) > strlen(a[j].event) ||
                                             (strlen(a[j - 1].event) == strlen(a[j].event) &&
                                              strcmp(a[j - 1].event, a[j].event) > 0));
                     j--) {
                        vfio_input_dev t = a[j];

                        a[j] = a[j - 1];
                        a[j - 1] = t;
                }
        *ret = a;
        *ret_n = n;
        return 0;
oom:
        vfio_input_devs_free(a, n);
        return -ENOMEM;
}

/* --- key state --- */

bool vfio_input_keys_down(const vfio_input_keys *k, uint16_t code)
{
        assert(k);

        return code < KEY_CNT && vfio_input_test_bit(k->bits, code);
}

bool vfio_input_keys_apply(vfio_input_keys *k, uint16_t code, int32_t value)
{
        bool was;

        assert(k);

        if (code >= KEY_CNT || (value != 0 && value != 1))
                return false; /* autorepeat (2) changes nothing */
        was = vfio_input_test_bit(k->bits, code);
        if (value == 1 && !was) {
                vfio_input_set_bit(k->bits, code);
                k->count++;
                return true;
        }
        if (value == 0 && was) {
                k->bits[code / LONG_BITS] &= ~(1UL << (code % LONG_BITS));
                k->count--;
                return true;
        }
        return false;
}

/* --- toggle --- */

static const struct {
        const char *name;
        uint16_t code;
} key_names[] = {
        { "KEY_LEFTCTRL", KEY_LEFTCTRL },
        { "KEY_RIGHTCTRL", KEY_RIGHTCTRL },
        { "KEY_LEFTALT", KEY_LEFTALT },
        { "KEY_RIGHTALT", KEY_RIGHTALT },
        { "KEY_LEFTSHIFT", KEY_LEFTSHIFT },
        { "KEY_RIGHTSHIFT", KEY_RIGHTSHIFT },
        { "KEY_LEFTMETA", KEY_LEFTMETA },
        { "KEY_RIGHTMETA", KEY_RIGHTMETA },
        { "KEY_SCROLLLOCK", KEY_SCROLLLOCK },
        { "KEY_PAUSE", KEY_PAUSE },
        { "KEY_SYSRQ", KEY_SYSRQ },
        { "KEY_INSERT", KEY_INSERT },
        { "KEY_HOME", KEY_HOME },
        { "KEY_END", KEY_END },
        { "KEY_ESC", KEY_ESC },
        { "KEY_F1", KEY_F1 },
        { "KEY_F2", KEY_F2 },
        { "KEY_F3", KEY_F3 },
        { "KEY_F4", KEY_F4 },
        { "KEY_F5", KEY_F5 },
        { "KEY_F6", KEY_F6 },
        { "KEY_F7", KEY_F7 },
        { "KEY_F8", KEY_F8 },
        { "KEY_F9", KEY_F9 },
        { "KEY_F10", KEY_F10 },
        { "KEY_F11", KEY_F11 },
        { "KEY_F12", KEY_F12 },
        { "KEY_G", KEY_G },
};

static int key_from_name(const char *s, uint16_t *ret)
{
        uint64_t v;

        for (size_t i = 0; i < ELEMENTSOF(key_names); i++)
                if (strcasecmp(s, key_names[i].name) == 0 || strcasecmp(s, key_names[i].name + 4) == 0) {
                        *ret = key_names[i].code;
                        return 0;
                }
        /* Any other key by its number from linux/input-event-codes.h. */
        if (parse_uint(s, 10, KEY_MAX, &v) < 0 || v == 0)
                return -EINVAL;
        *ret = (uint16_t)v;
        return 0;
}

int vfio_input_toggle_parse(const char *spec, vfio_input_toggle *ret)
{
        static const struct {
                const char *name;
                uint16_t keys[2];
                size_t n;
        } presets[] = {
                /* QEMU qapi/ui.json GrabToggleKeys: ctrl-ctrl (default), alt-alt, shift-shift, meta-meta,
                 * scrolllock, ctrl-scrolllock. */
                { "ctrl-ctrl", { KEY_LEFTCTRL, KEY_RIGHTCTRL }, 2 },
                { "alt-alt", { KEY_LEFTALT, KEY_RIGHTALT }, 2 },
                { "shift-shift", { KEY_LEFTSHIFT, KEY_RIGHTSHIFT }, 2 },
                { "meta-meta", { KEY_LEFTMETA, KEY_RIGHTMETA }, 2 },
                { "scrolllock", { KEY_SCROLLLOCK }, 1 },
                { "ctrl-scrolllock", { KEY_LEFTCTRL, KEY_SCROLLLOCK }, 2 },
        };
        _cleanup_strv_free_ char **parts = NULL;
        vfio_input_toggle t = {};
        int r;

        assert(ret);

        if (!spec || !*spec)
                return -EINVAL;
        for (size_t i = 0; i < ELEMENTSOF(presets); i++)
                if (strcmp(spec, presets[i].name) == 0) {
                        memcpy(t.keys, presets[i].keys, sizeof(presets[i].keys));
                        t.n = presets[i].n;
                        *ret = t;
                        return 0;
                }
        r = strv_split(spec, "+", &parts);
        if (r < 0)
                return r;
        if (strv_length(parts) == 0 || strv_length(parts) > ELEMENTSOF(t.keys))
                return -EINVAL;
        STRV_FOREACH(p, parts) {
                uint16_t code;

                if (key_from_name(*p, &code) < 0)
                        return -EINVAL;
                for (size_t i = 0; i < t.n; i++)
                        if (t.keys[i] == code)
                                return -EINVAL;
                t.keys[t.n++] = code;
        }
        *ret = t;
        return 0;
}

/* --- router --- */

void vfio_input_router_init(vfio_input_router *r, const vfio_input_toggle *toggle)
{
        assert(r);
        assert(toggle);

        *r = (vfio_input_router){ .toggle = *toggle };
}

static bool held_anywhere(const vfio_input_router *r, uint16_t code)
{
        for (size_t s = 0; s < VFIO_INPUT_MAX_SOURCES; s++)
                if (vfio_input_keys_down(&r->held[s], code))
                        return true;
        return false;
}

static bool nothing_held(const vfio_input_router *r)
{
        for (size_t s = 0; s < VFIO_INPUT_MAX_SOURCES; s++)
                if (r->held[s].count > 0)
                        return false;
        return true;
}

static bool toggle_complete(const vfio_input_router *r, uint16_t pressed)
{
        bool involved = false;

        if (r->toggle.n == 0)
                return false;
        for (size_t i = 0; i < r->toggle.n; i++) {
                if (!held_anywhere(r, r->toggle.keys[i]))
                        return false;
                involved = involved || r->toggle.keys[i] == pressed;
        }
        return involved;
}

static size_t push(vfio_input_out *out, size_t n, size_t max, unsigned output, uint16_t type, uint16_t code,
                   int32_t value)
{
        if (n >= max)
                return n;
        out[n] = (vfio_input_out){ .output = output, .ev = { .type = type, .code = code, .value = value } };
        return n + 1;
}

static size_t release_output(vfio_input_router *r, unsigned o, vfio_input_out *out, size_t n, size_t max)
{
        for (unsigned code = 0; code < KEY_CNT && r->down[o].count > 0; code++)
                if (vfio_input_keys_down(&r->down[o], code)) {
                        vfio_input_keys_apply(&r->down[o], (uint16_t)code, 0);
                        n = push(out, n, max, o, EV_KEY, (uint16_t)code, 0);
                        r->dirty[o] = true;
                }
        if (r->dirty[o]) {
                n = push(out, n, max, o, EV_SYN, SYN_REPORT, 0);
                r->dirty[o] = false;
        }
        return n;
}

size_t vfio_input_router_release_all(vfio_input_router *r, vfio_input_out *out, size_t max)
{
        size_t n = 0;

        assert(r);
        assert(out);

        for (unsigned o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++)
                n = release_output(r, o, out, n, max);
        return n;
}

size_t vfio_input_router_source_gone(vfio_input_router *r, unsigned source, unsigned output,
                                     vfio_input_out *out, size_t max)
{
        size_t n = 0;

        assert(r);
        assert(out);

        if (source >= VFIO_INPUT_MAX_SOURCES || output >= VFIO_INPUT_MAX_OUTPUTS)
                return 0;
        for (unsigned code = 0; code < KEY_CNT && r->held[source].count > 0; code++) {
                if (!vfio_input_keys_down(&r->held[source], code))
                        continue;
                vfio_input_keys_apply(&r->held[source], (uint16_t)code, 0);
                /* Another source may still hold the same key (two keyboards): then it stays down. */
                if (vfio_input_keys_down(&r->down[output], code) && !held_anywhere(r, (uint16_t)code)) {
                        vfio_input_keys_apply(&r->down[output], (uint16_t)code, 0);
                        n = push(out, n, max, output, EV_KEY, (uint16_t)code, 0);
                        r->dirty[output] = true;
                }
        }
        if (r->dirty[output]) {
                n = push(out, n, max, output, EV_SYN, SYN_REPORT, 0);
                r->dirty[output] = false;
        }
        return n;
}

size_t vfio_input_router_feed(vfio_input_router *r, unsigned source, unsigned output,
                              const struct input_event *ev, vfio_input_out *out, size_t max,
                              vfio_input_action *ret_action)
{
        size_t n = 0;

        assert(r);
        assert(ev);
        assert(out);
        assert(ret_action);

        *ret_action = VFIO_INPUT_ACTION_NONE;
        if (source >= VFIO_INPUT_MAX_SOURCES || output >= VFIO_INPUT_MAX_OUTPUTS)
                return 0;
        if (ev->type == EV_KEY) {
                vfio_input_keys_apply(&r->held[source], ev->code, ev->value);
                if (ev->value == 1 && toggle_complete(r, ev->code)) {
                        if (!r->to_host && !r->grab_pending) {
                                /* To the host: nothing may stay pressed in the guest (the first Ctrl of
                                 * ctrl-ctrl, and whatever else is held). */
                                r->to_host = true;
                                *ret_action = VFIO_INPUT_ACTION_UNGRAB;
                                return vfio_input_router_release_all(r, out, max);
                        }
                        if (r->to_host) {
                                r->to_host = false;
                                r->grab_pending = true;
                        }
                        return 0;
                }
        }
        if (r->grab_pending) {
                /* Grabbing while a key is held would keep it pressed on the host forever (the grab eats
                 * its release); QEMU's input-linux waits for all keys up the same way. */
                if (nothing_held(r)) {
                        r->grab_pending = false;
                        *ret_action = VFIO_INPUT_ACTION_GRAB;
                }
                return 0;
        }
        if (r->to_host)
                return 0;
        switch (ev->type) {
        case EV_KEY:
                if (ev->value == 1) {
                        if (!vfio_input_keys_apply(&r->down[output], ev->code, 1))
                                return 0;
                } else if (ev->value == 0) {
                        if (!vfio_input_keys_apply(&r->down[output], ev->code, 0))
                                return 0; /* never release what the guest never saw pressed */
                } else if (!vfio_input_keys_down(&r->down[output], ev->code))
                        return 0;
                break;
        case EV_REL:
        case EV_ABS:
        case EV_MSC:
                break;
        case EV_SYN:
                if (ev->code != SYN_REPORT || !r->dirty[output])
                        return 0;
                r->dirty[output] = false;
                n = push(out, n, max, output, EV_SYN, SYN_REPORT, 0);
                out[n - 1].ev.time = ev->time;
                return n;
        default:
                return 0; /* LEDs and force feedback flow the other way; EV_REP is the output's own */
        }
        r->dirty[output] = true;
        n = push(out, n, max, output, ev->type, ev->code, ev->value);
        if (n > 0)
                out[n - 1].ev.time = ev->time;
        return n;
}

bool vfio_input_source_reappeared(const char *source, const char *dir, const char *name)
{
        const char *slash;
        size_t dl;

        assert(source);
        assert(dir);

        while (*source == '/')
                source++;
        while (*dir == '/')
                dir++;
        slash = strrchr(source, '/');
        if (!slash || !name || !*name)
                return false;
        dl = strlen(dir);
        while (dl > 0 && dir[dl - 1] == '/')
                dl--;
        return (size_t)(slash - source) == dl && strncmp(source, dir, dl) == 0 &&
               strcmp(slash + 1, name) == 0;
}

int vfio_input_identity_from_fd(int fd, vfio_input_identity *ret)
{
        vfio_input_identity id = {};

        assert(ret);

        if (ioctl(fd, EVIOCGID, &id.id) < 0)
                return -errno;
        if (ioctl(fd, EVIOCGNAME(sizeof(id.name) - 1), id.name) < 0)
                return -errno;
        /* uinput devices without UI_SET_PHYS have no phys: ENOENT, kept empty. */
        (void)ioctl(fd, EVIOCGPHYS(sizeof(id.phys) - 1), id.phys);
        *ret = id;
        return 0;
}

bool vfio_input_identity_equal(const vfio_input_identity *a, const vfio_input_identity *b)
{
        assert(a);
        assert(b);

        return a->id.bustype == b->id.bustype && a->id.vendor == b->id.vendor &&
               a->id.product == b->id.product && strcmp(a->name, b->name) == 0 &&
               strcmp(a->phys, b->phys) == 0;
}
