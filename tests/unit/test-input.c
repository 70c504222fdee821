/*
 * Input: sysfs capability bitmaps and device kinds on a tree captured in the test bed guest, the tool's
 * listing (golden), and the relay's event logic as pure functions: toggle detection, stuck-key release
 * on toggle and on unplug, the grab that waits for every key up, and a source's by-id name coming back.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "cleanup.h"
#include "fixture.h"
#include "vfioctl/input.h"

/* --- bitmaps and kinds --- */

static void test_parse_bitmap(void **state)
{
        unsigned long ev[VFIO_INPUT_LONGS(EV_CNT)] = {}, key[VFIO_INPUT_LONGS(KEY_CNT)] = {};

        /* The AT keyboard of the test bed: ev=120013 (SYN KEY MSC LED REP) */
        assert_int_equal(vfio_input_parse_bitmap("120013", ev, EV_CNT), 0);
        assert_true(vfio_input_test_bit(ev, EV_SYN) && vfio_input_test_bit(ev, EV_KEY));
        assert_true(vfio_input_test_bit(ev, EV_MSC) && vfio_input_test_bit(ev, EV_LED) &&
                    vfio_input_test_bit(ev, EV_REP));
        assert_false(vfio_input_test_bit(ev, EV_REL));
        /* most significant long first: bit 0 of the last word is KEY_RESERVED, bit 1 KEY_ESC */
        assert_int_equal(
                vfio_input_parse_bitmap("402000002 3803078f800d001 feffffdfffefffff fffffffffffffffe", key,
                                        KEY_CNT),
                0);
        assert_false(vfio_input_test_bit(key, KEY_RESERVED));
        assert_true(vfio_input_test_bit(key, KEY_ESC) && vfio_input_test_bit(key, KEY_A));
        assert_true(vfio_input_test_bit(key, 64 * 3 + 1)); /* "402000002": bit 1 of the 4th word */
        assert_int_equal(vfio_input_parse_bitmap("0", key, KEY_CNT), 0);
        assert_false(vfio_input_test_bit(key, KEY_ESC));
        /* bits beyond the array, junk, over-long words */
        assert_int_equal(vfio_input_parse_bitmap("1 0", ev, EV_CNT), -ERANGE);
        assert_int_equal(vfio_input_parse_bitmap("xyz", ev, EV_CNT), -EINVAL);
        assert_int_equal(vfio_input_parse_bitmap("0x10", ev, EV_CNT), -EINVAL);
        assert_int_equal(vfio_input_parse_bitmap("11111111111111111", ev, EV_CNT), -EINVAL);
}

/* --- the listing on the captured tree --- */

static void udev_link(const char *root, const char *rel, const char *target)
{
        char *dir;

        /* the guest ran no udev: by-id/by-path do not exist in the capture */
        assert_true(asprintf(&dir, "%s/%.*s", root, (int)(strrchr(rel, '/') - rel), rel) > 0);
        assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
        free(dir);
        fixture_symlink(root, rel, target);
}

static void test_list_fixture(void **state)
{
        char *root = fixture_clone("testbed-input");
        vfio_input_dev *d = NULL;
        vfio_host *h = NULL;
        size_t n = 0;

        /* what udev's 60-persistent-input.rules would add for a USB keyboard (the guest runs no udev) */
        udev_link(root, "dev/input/by-id/usb-1234_5678-event-kbd", "../event1");
        udev_link(root, "dev/input/by-path/pci-0000:06:00.0-usb-0:1:1.0-event-kbd", "../event1");
        assert_int_equal(vfio_host_open(root, &h), 0);
        assert_int_equal(vfio_input_list(h, false, &d, &n), 0);
        assert_int_equal(n, 4);
        assert_string_equal(d[0].event, "event0");
        assert_string_equal(d[0].name, "AT Translated Set 2 keyboard");
        assert_int_equal(d[0].kinds, VFIO_INPUT_KEYBOARD);
        assert_string_equal(d[1].name, "Fake USB Keyboard");
        assert_int_equal(d[1].kinds, VFIO_INPUT_KEYBOARD);
        assert_string_equal(d[1].links[0], "by-id/usb-1234_5678-event-kbd");
        assert_string_equal(d[1].links[1], "by-path/pci-0000:06:00.0-usb-0:1:1.0-event-kbd");
        assert_null(d[1].links[2]);
        assert_int_equal(d[2].kinds, VFIO_INPUT_MOUSE);
        assert_true(vfio_input_test_bit(d[2].caps.rel, REL_WHEEL));
        assert_true(vfio_input_test_bit(d[2].caps.key, BTN_LEFT));
        /* the relay's output copies the source's keys, without EV_REP */
        assert_string_equal(d[3].name, "vfioctl win10 keyboard");
        assert_int_equal(memcmp(d[3].caps.key, d[1].caps.key, sizeof(d[1].caps.key)), 0);
        assert_false(vfio_input_test_bit(d[3].caps.ev, EV_REP));
        assert_true(vfio_input_test_bit(d[1].caps.ev, EV_REP));
        vfio_input_devs_free(d, n);
        vfio_host_free(h);
        fixture_remove(root);
}

static void test_tool_golden(void **state)
{
        char *root = fixture_clone("testbed-input"), *out = NULL, *err = NULL;

        udev_link(root, "dev/input/by-id/usb-1234_5678-event-kbd", "../event1");
        udev_link(root, "dev/input/by-id/usb-1234_5679-event-mouse", "../event2");
        assert_int_equal(
                fixture_run_tool(&out, &err, (const char *[]){ "--root", root, "input", "list", NULL }), 0);
        assert_true(fixture_golden("golden/input-testbed.txt", out));
        free(out);
        free(err);
        assert_int_equal(fixture_run_tool(&out, &err,
                                          (const char *[]){ "--root", root, "--json", "input", "list",
                                                            "--all", NULL }),
                         0);
        assert_true(fixture_golden("golden/input-testbed.json", out));
        free(out);
        free(err);
        /* no uinput below this root: the relay says so and how to fall back to plain input-linux */
        assert_int_equal(fixture_run_tool(&out, &err,
                                          (const char *[]){ "--root", root, "input", "relay", "--grab",
                                                            "/dev/input/by-id/usb-1234_5678-event-kbd",
                                                            "--out", "w", NULL }),
                         69);
        assert_non_null(strstr(err, "uinput is not available"));
        assert_non_null(
                strstr(err, "-object input-linux,id=kbd0,evdev=/dev/input/by-id/usb-1234_5678-event-kbd"));
        free(out);
        free(err);
        fixture_remove(root);
}

/* --- toggle specs --- */

static void test_toggle_parse(void **state)
{
        vfio_input_toggle t;

        assert_int_equal(vfio_input_toggle_parse("ctrl-ctrl", &t), 0);
        assert_int_equal(t.n, 2);
        assert_int_equal(t.keys[0], KEY_LEFTCTRL);
        assert_int_equal(t.keys[1], KEY_RIGHTCTRL);
        assert_int_equal(vfio_input_toggle_parse("scrolllock", &t), 0);
        assert_int_equal(t.n, 1);
        assert_int_equal(vfio_input_toggle_parse("KEY_LEFTCTRL+KEY_F12", &t), 0);
        assert_int_equal(t.n, 2);
        assert_int_equal(t.keys[1], KEY_F12);
        assert_int_equal(vfio_input_toggle_parse("leftalt+70", &t), 0); /* 70 = KEY_SCROLLLOCK */
        assert_int_equal(t.keys[1], KEY_SCROLLLOCK);
        assert_int_equal(vfio_input_toggle_parse("", &t), -EINVAL);
        assert_int_equal(vfio_input_toggle_parse("ctrl-alt-del", &t), -EINVAL);
        assert_int_equal(vfio_input_toggle_parse("KEY_F1+KEY_F1", &t), -EINVAL);
        assert_int_equal(vfio_input_toggle_parse("1+2+3+4+5", &t), -EINVAL);
        assert_int_equal(vfio_input_toggle_parse("0", &t), -EINVAL);
}

/* --- router --- */

#define KBD   0 /* output index */
#define MOUSE 1

typedef struct feed_result {
        vfio_input_out out[2 * KEY_CNT];
        size_t n;
        vfio_input_action action;
} feed_result;

static feed_result fr;

static size_t feed(vfio_input_router *r, unsigned src, unsigned out, uint16_t type, uint16_t code,
                   int32_t value)
{
        struct input_event ev = { .type = type, .code = code, .value = value };

        fr.n = vfio_input_router_feed(r, src, out, &ev, fr.out, ELEMENTSOF(fr.out), &fr.action);
        return fr.n;
}

/* a key event + its SYN_REPORT, as a keyboard sends it; returns what the output got */
static size_t key(vfio_input_router *r, unsigned src, uint16_t code, int32_t value)
{
        size_t n = feed(r, src, KBD, EV_KEY, code, value);
        vfio_input_action a = fr.action;
        vfio_input_out first[2 * KEY_CNT];

        memcpy(first, fr.out, n * sizeof(first[0]));
        n += feed(r, src, KBD, EV_SYN, SYN_REPORT, 0);
        memmove(fr.out + (n - fr.n), fr.out, fr.n * sizeof(fr.out[0]));
        memcpy(fr.out, first, (n - fr.n) * sizeof(first[0]));
        if (a != VFIO_INPUT_ACTION_NONE)
                fr.action = a;
        fr.n = n;
        return n;
}

static void assert_ev(size_t i, unsigned output, uint16_t type, uint16_t code, int32_t value)
{
        assert_true(i < fr.n);
        assert_int_equal(fr.out[i].output, output);
        assert_int_equal(fr.out[i].ev.type, type);
        assert_int_equal(fr.out[i].ev.code, code);
        assert_int_equal(fr.out[i].ev.value, value);
}

static void router_new(vfio_input_router *r, const char *spec)
{
        vfio_input_toggle t;

        assert_int_equal(vfio_input_toggle_parse(spec, &t), 0);
        vfio_input_router_init(r, &t);
}

static void test_forwarding(void **state)
{
        vfio_input_router r;

        router_new(&r, "ctrl-ctrl");
        assert_int_equal(key(&r, 0, KEY_A, 1), 2);
        assert_ev(0, KBD, EV_KEY, KEY_A, 1);
        assert_ev(1, KBD, EV_SYN, SYN_REPORT, 0);
        assert_int_equal(key(&r, 0, KEY_A, 2), 2); /* autorepeat of a key that is down */
        assert_int_equal(key(&r, 0, KEY_A, 0), 2);
        assert_ev(0, KBD, EV_KEY, KEY_A, 0);
        /* a release (or repeat) of a key the guest never saw pressed is dropped, and so is the empty SYN */
        assert_int_equal(key(&r, 0, KEY_B, 0), 0);
        assert_int_equal(key(&r, 0, KEY_B, 2), 0);
        /* the mouse goes to its own output; a relative motion frame is REL_X, REL_Y, SYN */
        assert_int_equal(feed(&r, 1, MOUSE, EV_REL, REL_X, -3), 1);
        assert_ev(0, MOUSE, EV_REL, REL_X, -3);
        assert_int_equal(feed(&r, 1, MOUSE, EV_REL, REL_Y, 5), 1);
        assert_int_equal(feed(&r, 1, MOUSE, EV_SYN, SYN_REPORT, 0), 1);
        assert_ev(0, MOUSE, EV_SYN, SYN_REPORT, 0);
        /* LEDs flow from the guest to the device, never from the device to the output */
        assert_int_equal(feed(&r, 0, KBD, EV_LED, LED_CAPSL, 1), 0);
}

/* The brief's story: press A, hit both Ctrl -> A up + Ctrl up, then nothing while toggled to the host. */
static void test_toggle_releases_held_keys(void **state)
{
        vfio_input_router r;

        router_new(&r, "ctrl-ctrl");
        assert_int_equal(key(&r, 0, KEY_A, 1), 2);
        assert_int_equal(key(&r, 0, KEY_LEFTCTRL, 1), 2);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_NONE);
        /* the second Ctrl completes the hotkey: it is not forwarded, everything down is released */
        assert_int_equal(key(&r, 0, KEY_RIGHTCTRL, 1), 3);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_UNGRAB);
        assert_ev(0, KBD, EV_KEY, KEY_LEFTCTRL, 0);
        assert_ev(1, KBD, EV_KEY, KEY_A, 0);
        assert_ev(2, KBD, EV_SYN, SYN_REPORT, 0);
        assert_true(r.to_host);
        /* while toggled: nothing reaches the guest */
        assert_int_equal(key(&r, 0, KEY_RIGHTCTRL, 0), 0);
        assert_int_equal(key(&r, 0, KEY_LEFTCTRL, 0), 0);
        assert_int_equal(key(&r, 0, KEY_A, 0), 0);
        assert_int_equal(key(&r, 0, KEY_B, 1), 0);
        assert_int_equal(key(&r, 0, KEY_B, 0), 0);
        assert_int_equal(feed(&r, 1, MOUSE, EV_REL, REL_X, 1), 0);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_NONE);
        assert_int_equal(r.down[KBD].count, 0);
}

/* Back to the guest: the grab waits until every key is up (else the host keeps Ctrl pressed forever). */
static void test_toggle_back_waits_for_keys_up(void **state)
{
        vfio_input_router r;

        router_new(&r, "ctrl-ctrl");
        key(&r, 0, KEY_LEFTCTRL, 1);
        key(&r, 0, KEY_RIGHTCTRL, 1);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_UNGRAB);
        key(&r, 0, KEY_RIGHTCTRL, 0);
        key(&r, 0, KEY_LEFTCTRL, 0);
        /* hotkey again, on the host */
        key(&r, 0, KEY_RIGHTCTRL, 1);
        assert_int_equal(key(&r, 0, KEY_LEFTCTRL, 1), 0);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_NONE);
        assert_true(r.grab_pending);
        assert_int_equal(key(&r, 0, KEY_LEFTCTRL, 0), 0);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_NONE); /* right Ctrl still held */
        assert_int_equal(key(&r, 0, KEY_RIGHTCTRL, 0), 0);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_GRAB);
        assert_false(r.grab_pending);
        assert_false(r.to_host);
        /* the Ctrl releases never reached the guest; the next key does */
        assert_int_equal(key(&r, 0, KEY_C, 1), 2);
        assert_ev(0, KBD, EV_KEY, KEY_C, 1);
}

/* The hotkey may be spread over two keyboards; a single key (scrolllock) toggles alone. */
static void test_toggle_across_sources_and_single_key(void **state)
{
        vfio_input_router r;

        router_new(&r, "ctrl-ctrl");
        key(&r, 0, KEY_LEFTCTRL, 1);
        assert_int_equal(key(&r, 3, KEY_RIGHTCTRL, 1), 2);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_UNGRAB);

        router_new(&r, "scrolllock");
        assert_int_equal(key(&r, 0, KEY_SCROLLLOCK, 1), 0);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_UNGRAB);
        /* pressing other keys that are not part of the hotkey never toggles */
        router_new(&r, "ctrl-ctrl");
        key(&r, 0, KEY_LEFTCTRL, 1);
        key(&r, 0, KEY_LEFTCTRL, 2);
        assert_int_equal(key(&r, 0, KEY_X, 1), 2);
        assert_int_equal(fr.action, VFIO_INPUT_ACTION_NONE);
}

/* A keyboard pulled out with a key held: the key is released on the output; another source's key stays. */
static void test_unplug_releases_its_keys(void **state)
{
        vfio_input_router r;

        router_new(&r, "ctrl-ctrl");
        key(&r, 0, KEY_W, 1);
        key(&r, 0, KEY_LEFTSHIFT, 1);
        key(&r, 1, KEY_LEFTSHIFT, 1); /* the second keyboard holds Shift too */
        key(&r, 1, KEY_D, 1);
        fr.n = vfio_input_router_source_gone(&r, 0, KBD, fr.out, ELEMENTSOF(fr.out));
        assert_int_equal(fr.n, 2);
        assert_ev(0, KBD, EV_KEY, KEY_W, 0);
        assert_ev(1, KBD, EV_SYN, SYN_REPORT, 0);
        assert_true(vfio_input_keys_down(&r.down[KBD], KEY_LEFTSHIFT));
        assert_true(vfio_input_keys_down(&r.down[KBD], KEY_D));
        assert_int_equal(r.held[0].count, 0);
        /* gone again with nothing held: nothing to send */
        assert_int_equal(vfio_input_router_source_gone(&r, 0, KBD, fr.out, ELEMENTSOF(fr.out)), 0);
        /* when the relay stops, everything still down is released */
        fr.n = vfio_input_router_release_all(&r, fr.out, ELEMENTSOF(fr.out));
        assert_int_equal(fr.n, 3);
        assert_ev(0, KBD, EV_KEY, KEY_D, 0);
        assert_ev(1, KBD, EV_KEY, KEY_LEFTSHIFT, 0);
        assert_ev(2, KBD, EV_SYN, SYN_REPORT, 0);
        /* out of range sources and outputs are ignored */
        assert_int_equal(feed(&r, VFIO_INPUT_MAX_SOURCES, KBD, EV_KEY, KEY_A, 1), 0);
        assert_int_equal(feed(&r, 0, VFIO_INPUT_MAX_OUTPUTS, EV_KEY, KEY_A, 1), 0);
}

static void test_keys(void **state)
{
        vfio_input_keys k = {};

        assert_true(vfio_input_keys_apply(&k, KEY_A, 1));
        assert_false(vfio_input_keys_apply(&k, KEY_A, 1));
        assert_false(vfio_input_keys_apply(&k, KEY_A, 2));
        assert_int_equal(k.count, 1);
        assert_true(vfio_input_keys_apply(&k, KEY_A, 0));
        assert_false(vfio_input_keys_apply(&k, KEY_A, 0));
        assert_false(vfio_input_keys_apply(&k, KEY_CNT, 1));
        assert_int_equal(k.count, 0);
}

/* --- replug --- */

static void test_source_reappeared(void **state)
{
        const char *src = "/dev/input/by-id/usb-Logitech_USB_Receiver-event-kbd";

        assert_true(
                vfio_input_source_reappeared(src, "dev/input/by-id", "usb-Logitech_USB_Receiver-event-kbd"));
        assert_true(vfio_input_source_reappeared(src, "/dev/input/by-id/",
                                                 "usb-Logitech_USB_Receiver-event-kbd"));
        assert_false(vfio_input_source_reappeared(src, "dev/input/by-id",
                                                  "usb-Logitech_USB_Receiver-event-mouse"));
        assert_false(vfio_input_source_reappeared(src, "dev/input/by-path",
                                                  "usb-Logitech_USB_Receiver-event-kbd"));
        assert_false(vfio_input_source_reappeared(src, "dev/input", "event3"));
        assert_true(vfio_input_source_reappeared("/dev/input/event3", "dev/input", "event3"));
        assert_false(vfio_input_source_reappeared("/dev/input/event3", "dev/input", "event30"));
        assert_false(vfio_input_source_reappeared("event3", "dev/input", "event3"));
        assert_false(vfio_input_source_reappeared(src, "dev/input/by-id", ""));
}

static void test_identity(void **state)
{
        vfio_input_identity a = { .id = { .bustype = BUS_USB, .vendor = 0x046d, .product = 0xc52b } }, b;

        strcpy(a.name, "Logitech USB Receiver");
        strcpy(a.phys, "usb-0000:00:14.0-2/input0");
        b = a;
        assert_true(vfio_input_identity_equal(&a, &b));
        b.id.version = 0x111; /* firmware version is not identity */
        assert_true(vfio_input_identity_equal(&a, &b));
        strcpy(b.phys, "usb-0000:00:14.0-3/input0"); /* another port: another device */
        assert_false(vfio_input_identity_equal(&a, &b));
        b = a;
        b.id.product = 0xc52c;
        assert_false(vfio_input_identity_equal(&a, &b));
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_parse_bitmap),
                cmocka_unit_test(test_list_fixture),
                cmocka_unit_test(test_tool_golden),
                cmocka_unit_test(test_toggle_parse),
                cmocka_unit_test(test_forwarding),
                cmocka_unit_test(test_toggle_releases_held_keys),
                cmocka_unit_test(test_toggle_back_waits_for_keys_up),
                cmocka_unit_test(test_toggle_across_sources_and_single_key),
                cmocka_unit_test(test_unplug_releases_its_keys),
                cmocka_unit_test(test_keys),
                cmocka_unit_test(test_source_reappeared),
                cmocka_unit_test(test_identity),
        };

        return cmocka_run_group_tests(tests, NULL, NULL);
}
