/* The input relay: grabbed evdev sources forwarded to persistent uinput devices that survive a replug. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/uinput.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cleanup.h"
#include "fs-util.h"
#include "log.h"
#include "strv.h"
#include "time-util.h"
#include "user-util.h"
#include "vfioctl/input.h"

/* Without labels, sources are merged into one output per kind: these two. With labels, output i is source i.
 */
enum { OUT_KEYBOARD, OUT_MOUSE };
static const char *const out_kinds[] = { "keyboard", "mouse" };

typedef struct source {
        char *path; /* as configured, below the root */
        char *node; /* what is open now (path, or the eventN it came back as) */
        int fd;
        unsigned output;
        vfio_input_identity identity;
} source;

typedef struct output {
        bool used;
        const char *label; /* "keyboard", "mouse", or the source's label */
        int fd;
        char *node; /* "dev/input/eventN" */
        vfio_input_caps caps;
        struct input_absinfo abs[ABS_CNT];
} output;

struct vfio_input_relay {
        const vfio_host *h;
        vfio_input_relay_config cfg;
        source src[VFIO_INPUT_MAX_SOURCES];
        size_t n_src;
        output out[VFIO_INPUT_MAX_OUTPUTS];
        vfio_input_router router;
        vfio_input_stats stats;
        int inotify_fd;
        int wd_input, wd_by_id, wd_by_path;
};

static void notify(vfio_input_relay *r, vfio_input_notice what, const char *detail)
{
        if (r->cfg.notify)
                r->cfg.notify(what, detail, r->cfg.userdata);
}

int vfio_input_uinput_available(const vfio_host *h)
{
        int fd;

        assert(h);
        fd = vfio_host_open_path(h, "dev/uinput", O_WRONLY | O_NONBLOCK);

        if (fd >= 0) {
                close(fd);
                return 1;
        }
        return fd == -ENOENT || fd == -ENODEV || fd == -ENXIO ? 0 : fd;
}

vfio_input_relay *vfio_input_relay_free(vfio_input_relay *r)
{
        if (!r)
                return NULL;
        for (size_t i = 0; i < r->n_src; i++) {
                if (r->src[i].fd >= 0)
                        close(r->src[i].fd); /* closing drops the grab */
                free(r->src[i].path);
                free(r->src[i].node);
        }
        for (size_t o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++) {
                if (r->out[o].fd >= 0) {
                        (void)ioctl(r->out[o].fd, UI_DEV_DESTROY);
                        close(r->out[o].fd);
                }
                free(r->out[o].node);
        }
        if (r->inotify_fd >= 0)
                close(r->inotify_fd);
        strv_free(r->cfg.sources);
        strv_free(r->cfg.labels);
        free((char *)r->cfg.name);
        free(r);
        return NULL;
}

static int open_source_node(const vfio_input_relay *r, const char *node, vfio_input_identity *ret_id)
{
        _cleanup_close_ int fd = -EBADF;
        int clk = CLOCK_MONOTONIC, k;

        fd = vfio_host_open_path(r->h, node, O_RDONLY | O_NONBLOCK | O_NOCTTY);
        if (fd < 0)
                return fd;
        k = vfio_input_identity_from_fd(fd, ret_id);
        if (k < 0)
                return k;
        /* Event timestamps on CLOCK_MONOTONIC so the added latency is measurable (evdev EVIOCSCLOCKID). */
        (void)ioctl(fd, EVIOCSCLOCKID, &clk);
        return TAKE_FD(fd);
}

static int grab(source *s, bool on)
{
        if (s->fd < 0)
                return 0;
        /* EVIOCGRAB: while grabbed, only this fd gets the device's events (the host's desktop sees none). */
        if (ioctl(s->fd, EVIOCGRAB, (void *)(uintptr_t)(on ? 1 : 0)) < 0 && !(errno == EINVAL && !on))
                return log_debug_errno(-errno, "EVIOCGRAB %d on %s: %m", on, s->node);
        return 0;
}

static void caps_union(vfio_input_caps *a, const vfio_input_caps *b)
{
        for (size_t i = 0; i < ELEMENTSOF(a->ev); i++)
                a->ev[i] |= b->ev[i];
        for (size_t i = 0; i < ELEMENTSOF(a->key); i++)
                a->key[i] |= b->key[i];
        for (size_t i = 0; i < ELEMENTSOF(a->rel); i++)
                a->rel[i] |= b->rel[i];
        for (size_t i = 0; i < ELEMENTSOF(a->abs); i++)
                a->abs[i] |= b->abs[i];
        for (size_t i = 0; i < ELEMENTSOF(a->msc); i++)
                a->msc[i] |= b->msc[i];
}

static int find_event_node(const vfio_host *h, const char *sysname, char **ret)
{
        _cleanup_free_ char *dir = NULL;

        if (asprintf(&dir, "sys/devices/virtual/input/%s", sysname) < 0)
                return -ENOMEM;
        /* The evdev handler attaches right after UI_DEV_CREATE; wait a little for its eventN. */
        for (int i = 0; i < 100; i++) {
                _cleanup_strv_free_ char **l = NULL;

                if (vfio_host_list_dir(h, dir, 256, &l) >= 0)
                        STRV_FOREACH(e, l)
                                if (strncmp(*e, "event", 5) == 0)
                                        return asprintf(ret, "dev/input/%s", *e) < 0 ? -ENOMEM : 0;
                nanosleep(&(struct timespec){ .tv_nsec = 10 * 1000 * 1000 }, NULL);
        }
        return -ETIMEDOUT;
}

static int create_output(vfio_input_relay *r, unsigned o)
{
        output *out = &r->out[o];
        struct uinput_setup setup = {
                .id = { .bustype = BUS_VIRTUAL, .vendor = 0x1d6b, .product = 0x0104 }
        };
        char sysname[64] = "";
        int fd;

        fd = vfio_host_open_path(r->h, "dev/uinput", O_WRONLY | O_NONBLOCK);
        if (fd < 0)
                return fd;
        out->fd = fd;
        /* Documentation/input/uinput.rst: declare every event type and code before UI_DEV_CREATE. EV_REP is
         * left out: the sources' own autorepeat events are forwarded, a second repeater would double them.
         */
        for (unsigned t = 1; t < EV_CNT; t++) {
                if (!vfio_input_test_bit(out->caps.ev, t) || t == EV_REP || t == EV_LED || t == EV_FF ||
                    t == EV_SND || t == EV_PWR || t == EV_FF_STATUS)
                        continue;
                if (ioctl(fd, UI_SET_EVBIT, t) < 0)
                        return -errno;
        }
        for (unsigned k = 0; k < KEY_CNT; k++)
                if (vfio_input_test_bit(out->caps.key, k) && ioctl(fd, UI_SET_KEYBIT, k) < 0)
                        return -errno;
        for (unsigned k = 0; k < REL_CNT; k++)
                if (vfio_input_test_bit(out->caps.rel, k) && ioctl(fd, UI_SET_RELBIT, k) < 0)
                        return -errno;
        for (unsigned k = 0; k < MSC_CNT; k++)
                if (vfio_input_test_bit(out->caps.msc, k) && ioctl(fd, UI_SET_MSCBIT, k) < 0)
                        return -errno;
        for (unsigned k = 0; k < ABS_CNT; k++) {
                struct uinput_abs_setup as = { .code = (uint16_t)k, .absinfo = out->abs[k] };

                if (!vfio_input_test_bit(out->caps.abs, k))
                        continue;
                if (ioctl(fd, UI_SET_ABSBIT, k) < 0 || ioctl(fd, UI_ABS_SETUP, &as) < 0)
                        return -errno;
        }
        snprintf(setup.name, sizeof(setup.name), "vfioctl %s %s", r->cfg.name, out->label);
        if (ioctl(fd, UI_DEV_SETUP, &setup) < 0 || ioctl(fd, UI_DEV_CREATE) < 0)
                return -errno;
        /* UI_GET_SYSNAME (Linux 3.15): "inputN" below /sys/devices/virtual/input. */
        if (ioctl(fd, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0)
                return -errno;
        return find_event_node(r->h, sysname, &out->node);
}

static int add_watch(vfio_input_relay *r, const char *rel)
{
        _cleanup_free_ char *abs = NULL;
        const char *root = vfio_host_root(r->h);
        int wd;

        /* inotify needs a real path: the root joined with the relative one. */
        if (asprintf(&abs, "%s%s%s", root, root[strlen(root) - 1] == '/' ? "" : "/", rel) < 0)
                return -ENOMEM;
        wd = inotify_add_watch(r->inotify_fd, abs, IN_CREATE | IN_ATTRIB | IN_MOVED_TO);
        return wd < 0 ? -errno : wd;
}

int vfio_input_relay_new(const vfio_host *h, const vfio_input_relay_config *c, vfio_input_relay **ret,
                         char **ret_error)
{
        _cleanup_(vfio_input_relay_freep) vfio_input_relay *r = NULL;
        size_t n;
        int k;

        assert(h);
        assert(c);
        assert(ret);
        n = strv_length(c->sources);

        if (n == 0 || n > VFIO_INPUT_MAX_SOURCES || !c->name || (c->labels && strv_length(c->labels) != n))
                return -EINVAL;
        r = calloc(1, sizeof(*r));
        if (!r)
                return -ENOMEM;
        r->h = h;
        r->inotify_fd = r->wd_input = r->wd_by_id = r->wd_by_path = -1;
        for (size_t o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++)
                r->out[o].fd = -EBADF;
        r->cfg = *c;
        r->cfg.sources = NULL;
        r->cfg.labels = NULL;
        r->cfg.name = strdup(c->name);
        if (!r->cfg.name)
                return -ENOMEM;
        STRV_FOREACH(p, c->sources)
                if (strv_extend(&r->cfg.sources, *p) < 0)
                        return -ENOMEM;
        STRV_FOREACH(p, c->labels)
                if (strv_extend(&r->cfg.labels, *p) < 0)
                        return -ENOMEM;
        vfio_input_router_init(&r->router, &c->toggle);

        for (size_t i = 0; i < n; i++) {
                source *s = &r->src[i];
                vfio_input_caps caps;
                unsigned kinds;

                s->fd = -EBADF;
                r->n_src++;
                s->path = strdup(c->sources[i]);
                s->node = strdup(c->sources[i]);
                if (!s->path || !s->node)
                        return -ENOMEM;
                k = open_source_node(r, s->path, &s->identity);
                if (k >= 0) {
                        s->fd = k;
                        k = vfio_input_caps_from_fd(s->fd, &caps);
                }
                if (k < 0) {
                        if (ret_error)
                                *ret_error = strdup(s->path);
                        return k;
                }
                kinds = vfio_input_caps_kinds(&caps);
                /* Pointers (relative or absolute axes) go to the mouse output, everything else to the
                 * keyboard. */
                if (r->cfg.labels) {
                        s->output = (unsigned)i;
                        r->out[i].label = r->cfg.labels[i];
                } else {
                        s->output = kinds & (VFIO_INPUT_MOUSE | VFIO_INPUT_TABLET) ||
                                                    vfio_input_test_bit(caps.ev, EV_REL) ||
                                                    vfio_input_test_bit(caps.ev, EV_ABS)
                                            ? OUT_MOUSE
                                            : OUT_KEYBOARD;
                        r->out[s->output].label = out_kinds[s->output];
                }
                r->out[s->output].used = true;
                caps_union(&r->out[s->output].caps, &caps);
                for (unsigned a = 0; a < ABS_CNT; a++)
                        if (vfio_input_test_bit(caps.abs, a))
                                (void)ioctl(s->fd, EVIOCGABS(a), &r->out[s->output].abs[a]);
        }
        for (unsigned o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++) {
                if (!r->out[o].used)
                        continue;
                k = create_output(r, o);
                if (k < 0) {
                        if (ret_error)
                                *ret_error = strdup("dev/uinput");
                        return k;
                }
                log_debug("output %s: %s", r->out[o].label, r->out[o].node);
        }
        if (!c->no_grab)
                for (size_t i = 0; i < r->n_src; i++) {
                        k = grab(&r->src[i], true);
                        if (k < 0) {
                                if (ret_error)
                                        *ret_error = strdup(r->src[i].path);
                                return k;
                        }
                }
        r->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        if (r->inotify_fd < 0)
                return -errno;
        r->wd_input = add_watch(r, "dev/input");
        r->wd_by_id = add_watch(r, "dev/input/by-id");
        r->wd_by_path = add_watch(r, "dev/input/by-path");
        *ret = TAKE_PTR(r);
        return 0;
}

size_t vfio_input_relay_n_outputs(const vfio_input_relay *r)
{
        size_t n = 0;

        assert(r);

        for (unsigned o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++)
                n += r->out[o].used;
        return n;
}

static const output *nth_output(const vfio_input_relay *r, size_t i, unsigned *ret_o)
{
        for (unsigned o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++)
                if (r->out[o].used && i-- == 0) {
                        *ret_o = o;
                        return &r->out[o];
                }
        return NULL;
}

const char *vfio_input_relay_output_kind(const vfio_input_relay *r, size_t i)
{
        unsigned o;
        const output *out = NULL;

        assert(r);
        out = nth_output(r, i, &o);

        return out ? out->label : NULL;
}

const char *vfio_input_relay_output_node(const vfio_input_relay *r, size_t i)
{
        unsigned o;
        const output *out = NULL;

        assert(r);
        out = nth_output(r, i, &o);

        return out ? out->node : NULL;
}

int vfio_input_relay_give_outputs(const vfio_input_relay *r, uid_t uid)
{
        assert(r);

        for (unsigned o = 0; o < VFIO_INPUT_MAX_OUTPUTS; o++) {
                _cleanup_close_ int fd = -EBADF;
                struct stat st;

                if (!r->out[o].used)
                        continue;
                /* O_PATH: opening the evdev node for real would make us one of its clients. */
                fd = vfio_host_open_path(r->h, r->out[o].node, O_PATH | O_NOFOLLOW);
                if (fd < 0)
                        return fd;
                if (fstat(fd, &st) < 0)
                        return -errno;
                if (!S_ISCHR(st.st_mode))
                        return -ENOTTY;
                if (st.st_uid == uid)
                        continue;
                /* fchown() refuses O_PATH descriptors: go through /proc (same inode, no path lookup). */
                {
                        char p[64];

                        snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
                        if (chown(p, uid, (gid_t)-1) < 0)
                                return -errno;
                }
        }
        return 0;
}

void vfio_input_relay_get_stats(const vfio_input_relay *r, vfio_input_stats *ret)
{
        assert(r);
        assert(ret);

        *ret = r->stats;
}

static void write_outs(vfio_input_relay *r, const vfio_input_out *outs, size_t n,
                       const struct input_event *cause)
{
        for (size_t i = 0; i < n; i++) {
                output *o = &r->out[outs[i].output];
                struct input_event ev = outs[i].ev;
                uint64_t t_out, t_in;

                if (o->fd < 0)
                        continue;
                ev.time.tv_sec = 0;
                ev.time.tv_usec = 0; /* uinput stamps the event itself */
                if (write(o->fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev)) {
                        log_debug("write to %s: %m", o->node);
                        continue;
                }
                t_out = now_ns();
                r->stats.events++;
                if (!cause)
                        continue;
                t_in = (uint64_t)cause->time.tv_sec * 1000000000ULL +
                       (uint64_t)cause->time.tv_usec * 1000ULL;
                if (t_out >= t_in && t_out - t_in < 10ULL * 1000000000ULL) {
                        r->stats.last_ns = t_out - t_in;
                        r->stats.total_ns += r->stats.last_ns;
                        if (r->stats.last_ns > r->stats.max_ns)
                                r->stats.max_ns = r->stats.last_ns;
                }
        }
}

static void set_grabs(vfio_input_relay *r, bool on)
{
        if (r->cfg.no_grab)
                return;
        for (size_t i = 0; i < r->n_src; i++)
                (void)grab(&r->src[i], on);
}

static void source_gone(vfio_input_relay *r, size_t i)
{
        vfio_input_out outs[2 * KEY_CNT];
        size_t n;

        /* Keys held on a keyboard that is pulled out would stay pressed in the guest: release them. */
        n = vfio_input_router_source_gone(&r->router, (unsigned)i, r->src[i].output, outs, ELEMENTSOF(outs));
        write_outs(r, outs, n, NULL);
        close(r->src[i].fd);
        r->src[i].fd = -EBADF;
        notify(r, VFIO_INPUT_NOTICE_GONE, r->src[i].path);
}

static bool try_adopt(vfio_input_relay *r, size_t i, const char *node)
{
        source *s = &r->src[i];
        vfio_input_identity id;
        char *copy;
        int fd;

        fd = open_source_node(r, node, &id);
        if (fd < 0)
                return false;
        /* The same device (name, bus, vendor, product, phys): udev gives no by-id name without a bus id,
         * and eventN numbers are reused, so the identity decides. */
        if (!vfio_input_identity_equal(&id, &s->identity)) {
                close(fd);
                return false;
        }
        for (size_t j = 0; j < r->n_src; j++)
                if (j != i && r->src[j].fd >= 0 && r->src[j].node && strcmp(r->src[j].node, node) == 0) {
                        close(fd);
                        return false;
                }
        copy = strdup(node);
        if (!copy) {
                close(fd);
                return false;
        }
        free(s->node);
        s->node = copy;
        s->fd = fd;
        if (!r->router.to_host && !r->router.grab_pending)
                (void)grab(s, true);
        r->stats.replugs++;
        notify(r, VFIO_INPUT_NOTICE_BACK, s->node);
        return true;
}

/* Looks for every missing source: its configured path first, then any dev/input/eventN with its identity. */
static void rescan(vfio_input_relay *r)
{
        _cleanup_strv_free_ char **nodes = NULL;
        bool missing = false;

        for (size_t i = 0; i < r->n_src; i++)
                if (r->src[i].fd < 0 && !try_adopt(r, i, r->src[i].path))
                        missing = true;
        if (!missing || vfio_host_list_dir(r->h, "dev/input", 1024, &nodes) < 0)
                return;
        for (size_t i = 0; i < r->n_src; i++)
                STRV_FOREACH(e, nodes) {
                        _cleanup_free_ char *node = NULL;

                        if (r->src[i].fd >= 0)
                                break;
                        if (strncmp(*e, "event", 5) != 0 || asprintf(&node, "dev/input/%s", *e) < 0)
                                continue;
                        (void)try_adopt(r, i, node);
                }
}

static void handle_inotify(vfio_input_relay *r)
{
        char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
        bool relevant = false;
        ssize_t n;

        while ((n = read(r->inotify_fd, buf, sizeof(buf))) > 0)
                for (char *p = buf; p < buf + n;) {
                        const struct inotify_event *e = (const struct inotify_event *)p;
                        const char *dir = e->wd == r->wd_by_id     ? "dev/input/by-id"
                                          : e->wd == r->wd_by_path ? "dev/input/by-path"
                                                                   : "dev/input";

                        p += sizeof(*e) + e->len;
                        if (e->len == 0)
                                continue;
                        /* by-id / by-path appear with the first device udev names: watch them from then on.
                         */
                        if (e->wd == r->wd_input && strcmp(e->name, "by-id") == 0 && r->wd_by_id < 0)
                                r->wd_by_id = add_watch(r, "dev/input/by-id");
                        if (e->wd == r->wd_input && strcmp(e->name, "by-path") == 0 && r->wd_by_path < 0)
                                r->wd_by_path = add_watch(r, "dev/input/by-path");
                        for (size_t i = 0; i < r->n_src; i++)
                                if (r->src[i].fd < 0 &&
                                    (vfio_input_source_reappeared(r->src[i].path, dir, e->name) ||
                                     (e->wd == r->wd_input && strncmp(e->name, "event", 5) == 0)))
                                        relevant = true;
                }
        if (relevant)
                rescan(r);
}

static void handle_source(vfio_input_relay *r, size_t i)
{
        struct input_event evs[64];
        vfio_input_out outs[2 * KEY_CNT];
        ssize_t n;

        n = read(r->src[i].fd, evs, sizeof(evs));
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
                return;
        if (n <= 0) {
                /* ENODEV: the device was unplugged (evdev_read after evdev_disconnect). */
                source_gone(r, i);
                return;
        }
        for (size_t k = 0; k < (size_t)n / sizeof(evs[0]); k++) {
                vfio_input_action act;
                size_t m = vfio_input_router_feed(&r->router, (unsigned)i, r->src[i].output, &evs[k], outs,
                                                  ELEMENTSOF(outs), &act);

                write_outs(r, outs, m, &evs[k]);
                if (act == VFIO_INPUT_ACTION_UNGRAB) {
                        set_grabs(r, false);
                        r->stats.toggles++;
                        notify(r, VFIO_INPUT_NOTICE_TO_HOST, NULL);
                } else if (act == VFIO_INPUT_ACTION_GRAB) {
                        set_grabs(r, true);
                        r->stats.toggles++;
                        notify(r, VFIO_INPUT_NOTICE_TO_GUEST, NULL);
                }
        }
}

int vfio_input_relay_run(vfio_input_relay *r, int sigfd)
{
        assert(r);

        for (;;) {
                struct pollfd p[2 + VFIO_INPUT_MAX_SOURCES];
                size_t idx[VFIO_INPUT_MAX_SOURCES], np = 0, ns = 0;
                bool missing = false;

                p[np++] = (struct pollfd){ .fd = sigfd, .events = POLLIN };
                p[np++] = (struct pollfd){ .fd = r->inotify_fd, .events = POLLIN };
                for (size_t i = 0; i < r->n_src; i++) {
                        if (r->src[i].fd < 0) {
                                missing = true;
                                continue;
                        }
                        idx[ns++] = i;
                        p[np++] = (struct pollfd){ .fd = r->src[i].fd, .events = POLLIN };
                }
                /* While a source is missing, rescan every 500 ms as well: its node may appear before udev
                 * gives us access to it (IN_ATTRIB covers most of that), or under a new eventN. */
                if (poll(p, np, missing ? 500 : -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        return -errno;
                }
                if (p[0].revents & POLLIN) {
                        struct signalfd_siginfo si;

                        if (read(sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
                                if (si.ssi_signo == SIGUSR1)
                                        notify(r, VFIO_INPUT_NOTICE_STATS, NULL);
                                else
                                        break;
                        }
                }
                if (p[1].revents & POLLIN)
                        handle_inotify(r);
                for (size_t k = 0; k < ns; k++)
                        if (p[2 + k].revents & (POLLIN | POLLHUP | POLLERR) && r->src[idx[k]].fd >= 0)
                                handle_source(r, idx[k]);
                if (missing)
                        rescan(r);
        }
        /* Leaving: nothing may stay pressed in the guest. */
        {
                vfio_input_out outs[2 * KEY_CNT];
                size_t n = vfio_input_router_release_all(&r->router, outs, ELEMENTSOF(outs));

                write_outs(r, outs, n, NULL);
        }
        return 0;
}

int vfio_input_relay_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, pid_t parent)
{
        if (drop_privileges(uid, gid, groups, n_groups) != 0)
                return -errno;
        if (getuid() != uid || geteuid() != uid)
                return -EPERM;
        /* Both after setuid: a credential change clears them. */
        if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0 || prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) < 0)
                return -errno;
        if (getppid() != parent)
                return -ESRCH; /* the supervisor died before PDEATHSIG was armed */
        return 0;
}

int vfio_input_relay_link(const char *dir, const char *name, const char *kind, const char *target,
                          char ***made)
{
        _cleanup_free_ char *link = NULL;
        _cleanup_close_ int dfd = -EBADF;
        int r;

        assert(dir);
        assert(name);
        assert(kind);
        assert(target);
        assert(made);
        if (asprintf(&link, "%s/%s-%s", dir, name, kind) < 0)
                return -ENOMEM;
        dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0)
                return -errno;
        r = symlink_atomic_at(dfd, strrchr(link, '/') + 1, target);
        if (r < 0)
                return r;
        return strv_push(made, TAKE_PTR(link));
}

void vfio_input_relay_unlink(char *const *made)
{
        STRV_FOREACH(l, made)
                (void)unlink(*l);
}
