/* Keyboards and mice: listing evdev devices with their capabilities, and the pure event logic of the relay.
 */
#pragma once

#include <linux/input.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vfioctl/common.h"
#include "vfioctl/host.h"

#define VFIO_INPUT_LONGS(bits) (((bits) + 8 * sizeof(unsigned long) - 1) / (8 * sizeof(unsigned long)))

typedef struct vfio_input_caps {
        unsigned long ev[VFIO_INPUT_LONGS(EV_CNT)];
        unsigned long key[VFIO_INPUT_LONGS(KEY_CNT)];
        unsigned long rel[VFIO_INPUT_LONGS(REL_CNT)];
        unsigned long abs[VFIO_INPUT_LONGS(ABS_CNT)];
        unsigned long msc[VFIO_INPUT_LONGS(MSC_CNT)];
} vfio_input_caps;

static inline bool vfio_input_test_bit(const unsigned long *bits, unsigned n)
{
        return bits[n / (8 * sizeof(unsigned long))] >> (n % (8 * sizeof(unsigned long))) & 1UL;
}
static inline void vfio_input_set_bit(unsigned long *bits, unsigned n)
{
        bits[n / (8 * sizeof(unsigned long))] |= 1UL << (n % (8 * sizeof(unsigned long)));
}

enum {
        VFIO_INPUT_KEYBOARD = 1 << 0, /* EV_KEY with the letter keys (udev input_id's "keyboard") */
        VFIO_INPUT_MOUSE = 1 << 1,    /* EV_REL with REL_X, REL_Y and BTN_LEFT */
        VFIO_INPUT_TABLET = 1 << 2,   /* EV_ABS with ABS_X, ABS_Y and BTN_LEFT or BTN_TOUCH */
};
/* The kinds a capability set stands for (bit mask of VFIO_INPUT_*; 0 for other devices). */
unsigned vfio_input_caps_kinds(const vfio_input_caps *c);
/* Parses a sysfs capabilities bitmap ("120013", "1000000000007 ff9f207ac14057ff ..."): space-separated hex
 * longs, most significant first (drivers/input/input.c input_print_bitmap). Bits beyond nbits: -ERANGE. */
int vfio_input_parse_bitmap(const char *s, unsigned long *bits, size_t nbits);

typedef struct vfio_input_dev {
        char *event;  /* "event3" */
        char *name;   /* "Logitech USB Receiver" */
        char *phys;   /* may be NULL */
        char **links; /* "by-id/usb-Logitech_USB_Receiver-event-kbd", "by-path/..." (below dev/input) */
        unsigned kinds;
        vfio_input_caps caps;
} vfio_input_dev;

void vfio_input_devs_free(vfio_input_dev *d, size_t n);

/*
 * The keyboards and mice below the root: sys/class/input/event*, their dev/input/by-id and by-path links.
 * Capabilities by EVIOCGBIT on dev/input/eventN on the live host (sysfs when the node cannot be opened),
 * from sys/class/input/eventN/device/capabilities/{ev,key,rel,abs,msc} under a fixture root. With all, every
 * event device is returned, else only keyboards, mice and tablets.
 */
int vfio_input_list(const vfio_host *h, bool all, vfio_input_dev **ret, size_t *ret_n);
/* Reads the capabilities of an open evdev fd (EVIOCGBIT, Documentation/input/input-programming.rst). */
int vfio_input_caps_from_fd(int fd, vfio_input_caps *ret);

/* --- the relay's event logic (pure: no I/O) --- */

typedef struct vfio_input_keys {
        unsigned long bits[VFIO_INPUT_LONGS(KEY_CNT)];
        unsigned count;
} vfio_input_keys;

bool vfio_input_keys_down(const vfio_input_keys *k, uint16_t code);
/* Applies an EV_KEY event (value 1 press, 0 release, 2 autorepeat); returns true when it changed the state.
 */
bool vfio_input_keys_apply(vfio_input_keys *k, uint16_t code, int32_t value);

/* A hotkey: every key of it down at once toggles between guest and host. At most 4 keys. */
typedef struct vfio_input_toggle {
        uint16_t keys[4];
        size_t n;
} vfio_input_toggle;

/*
 * "ctrl-ctrl" (both Ctrl, the default, as QEMU's input-linux grab-toggle), "alt-alt", "shift-shift",
 * "meta-meta", "scrolllock", "ctrl-scrolllock", or keys by Linux name joined with '+'
 * ("KEY_LEFTCTRL+KEY_F12").
 */
int vfio_input_toggle_parse(const char *spec, vfio_input_toggle *ret);

#define VFIO_INPUT_MAX_SOURCES 16
#define VFIO_INPUT_MAX_OUTPUTS VFIO_INPUT_MAX_SOURCES

/* One event for one output of the relay. */
typedef struct vfio_input_out {
        unsigned output;
        struct input_event ev;
} vfio_input_out;

typedef enum vfio_input_action {
        VFIO_INPUT_ACTION_NONE,
        VFIO_INPUT_ACTION_UNGRAB, /* toggled to the host: release EVIOCGRAB on every source */
        VFIO_INPUT_ACTION_GRAB,   /* back to the guest, no key held any more: EVIOCGRAB every source */
} vfio_input_action;

/*
 * The router: what the relay forwards, given where each event came from. It tracks the keys held on each
 * source and the keys down on each output so that no key ever sticks: a toggle releases every key down
 * on the outputs, an unplugged source releases its keys, and a release for a key the output does not hold
 * is dropped.
 */
typedef struct vfio_input_router {
        vfio_input_toggle toggle;
        bool to_host;                                 /* toggled: the host has the devices */
        bool grab_pending;                            /* toggled back; grab once every physical key is up */
        vfio_input_keys held[VFIO_INPUT_MAX_SOURCES]; /* physically held, per source */
        vfio_input_keys down[VFIO_INPUT_MAX_OUTPUTS]; /* down as the guest sees it, per output */
        bool dirty[VFIO_INPUT_MAX_OUTPUTS];           /* events written since the last SYN_REPORT */
} vfio_input_router;

void vfio_input_router_init(vfio_input_router *r, const vfio_input_toggle *toggle);
/*
 * Feeds one event read from source `source` whose events go to output `output`; fills out[] (at most max,
 * max >= 2 * KEY_CNT is always enough) and returns how many; *ret_action says what to do with the grabs.
 */
size_t vfio_input_router_feed(vfio_input_router *r, unsigned source, unsigned output,
                              const struct input_event *ev, vfio_input_out *out, size_t max,
                              vfio_input_action *ret_action);
/* The source went away (ENODEV): key-ups + SYN_REPORT for its keys still down on the output. */
size_t vfio_input_router_source_gone(vfio_input_router *r, unsigned source, unsigned output,
                                     vfio_input_out *out, size_t max);
/* Key-ups for every key down on every output, each output ended by SYN_REPORT. */
size_t vfio_input_router_release_all(vfio_input_router *r, vfio_input_out *out, size_t max);

/*
 * True when an inotify event for `name` created in directory `dir` (relative to the root, e.g.
 * "dev/input/by-id") brings back the configured source `source` (e.g. "/dev/input/by-id/usb-X-event-kbd").
 */
bool vfio_input_source_reappeared(const char *source, const char *dir, const char *name);

/* The identity of an evdev device, to recognise it under a new eventN where udev gives no by-id name. */
typedef struct vfio_input_identity {
        struct input_id id;
        char name[256];
        char phys[256];
} vfio_input_identity;
int vfio_input_identity_from_fd(int fd, vfio_input_identity *ret);
bool vfio_input_identity_equal(const vfio_input_identity *a, const vfio_input_identity *b);

/* --- the relay (lib/input-relay.c): grabbed sources → one persistent uinput device per kind --- */

typedef struct vfio_input_relay vfio_input_relay;

typedef struct vfio_input_stats {
        uint64_t events;   /* events forwarded (SYN_REPORT included) */
        uint64_t total_ns; /* sum over forwarded events of (written to uinput) - (source kernel timestamp) */
        uint64_t max_ns;
        uint64_t last_ns;
        uint64_t replugs; /* sources reopened after they went away */
        uint64_t toggles; /* guest -> host and host -> guest */
} vfio_input_stats;

typedef enum vfio_input_notice {
        VFIO_INPUT_NOTICE_GONE,     /* a source went away (unplugged): detail is its path */
        VFIO_INPUT_NOTICE_BACK,     /* a source came back: detail is the node it was reopened from */
        VFIO_INPUT_NOTICE_TO_HOST,  /* toggled: sources ungrabbed */
        VFIO_INPUT_NOTICE_TO_GUEST, /* toggled back: sources grabbed */
        VFIO_INPUT_NOTICE_STATS,    /* SIGUSR1: detail NULL, read vfio_input_relay_get_stats() */
} vfio_input_notice;

typedef struct vfio_input_relay_config {
        char **sources;   /* evdev paths below the root: "/dev/input/by-id/usb-...-event-kbd" */
        const char *name; /* outputs are "vfioctl <name> keyboard" / "vfioctl <name> mouse" */
        char **labels;    /* NULL, or one per source: output i is source i's, "vfioctl <name> <label>" */
        vfio_input_toggle toggle; /* n == 0: no hotkey */
        bool no_grab;             /* testing: read sources without EVIOCGRAB */
        void (*notify)(vfio_input_notice what, const char *detail, void *userdata);
        void *userdata;
} vfio_input_relay_config;

/* 1 when dev/uinput below the root can be opened for writing, 0 when it does not exist (module not
 * loaded: modprobe uinput), -errno otherwise (-EACCES: not in the group that owns it). */
int vfio_input_uinput_available(const vfio_host *h);
/*
 * Opens and grabs the sources (all must be present now), creates one uinput device per kind with the
 * sources' capabilities (kernel Documentation/input/uinput.rst, UI_DEV_SETUP). *ret_error names the
 * failing path on failure.
 */
int vfio_input_relay_new(const vfio_host *h, const vfio_input_relay_config *c, vfio_input_relay **ret,
                         char **ret_error);
vfio_input_relay *vfio_input_relay_free(vfio_input_relay *r);
VFIO_DEFINE_POINTER_CLEANUP(vfio_input_relay, vfio_input_relay_free)
size_t vfio_input_relay_n_outputs(const vfio_input_relay *r);
/* "keyboard" or "mouse", and the output's node below the root ("dev/input/event7"). */
const char *vfio_input_relay_output_kind(const vfio_input_relay *r, size_t i);
const char *vfio_input_relay_output_node(const vfio_input_relay *r, size_t i);
/*
 * Forwards events until sigfd (a signalfd) reports SIGINT, SIGTERM or SIGHUP; SIGUSR1 reports the stats
 * through notify. Reopens sources that come back (inotify on dev/input and its by-id / by-path dirs, plus
 * a 500 ms rescan while one is missing). Returns 0 on a stop signal.
 */
int vfio_input_relay_run(vfio_input_relay *r, int sigfd);
void vfio_input_relay_get_stats(const vfio_input_relay *r, vfio_input_stats *ret);
/* Makes uid the owner of every output's node (mode kept): QEMU, run as the VM user, opens them. Needs root.
 */
int vfio_input_relay_give_outputs(const vfio_input_relay *r, uid_t uid);
/*
 * The relay becomes the VM user for good once its devices are open: credentials dropped, not dumpable, and
 * SIGTERM when parent (the supervisor) dies. -ESRCH when the parent died before that was armed.
 */
int vfio_input_relay_become(uid_t uid, gid_t gid, const gid_t *groups, size_t n_groups, pid_t parent);
/* DIR/NAME-KIND -> target (an output's node), replaced atomically; its path is added to *made. */
int vfio_input_relay_link(const char *dir, const char *name, const char *kind, const char *target,
                          char ***made);
/* Removes the links made: they would point at whatever device takes those nodes next. */
void vfio_input_relay_unlink(char *const *made);
