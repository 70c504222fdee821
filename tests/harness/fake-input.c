/*
 * A scripted uinput keyboard and an evdev reader, for the relay's end-to-end case
 * (tests/vfio-e2e/cases-input.sh). fake-input keyboard NAME   reads commands on stdin, one per line, answers
 * "ok CMD" (or "error CMD: why"): create | destroy | press CODE | release CODE | tap CODE | sleep MS | quit
 *                              "create" also prints "created /dev/input/eventN".
 *                              latency NODE COUNT: COUNT taps of KEY_F24, each press and release timed
 *                              from the write on the keyboard to the read of that event on NODE (the
 *                              keyboard's own node: what input-linux reads directly; or the relay's
 *                              output); prints "latency NODE n=.. median_us=.. p90_us=.. max_us=..".
 *   fake-input read NODE SECS  prints every event of NODE as "E TYPE CODE VALUE" (flushed) for SECS seconds.
 * Kernel Documentation/input/uinput.rst (UI_DEV_SETUP, UI_DEV_CREATE, UI_GET_SYSNAME).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

static int kbd = -1, mouse = -1;

static int emit(int type, int code, int value)
{
        struct input_event ev = { .type = (unsigned short)type,
                                  .code = (unsigned short)code,
                                  .value = value };

        return write(kbd, &ev, sizeof(ev)) == (ssize_t)sizeof(ev) ? 0 : -errno;
}

static int key(int code, int value)
{
        int r = emit(EV_KEY, code, value);

        return r < 0 ? r : emit(EV_SYN, SYN_REPORT, 0);
}

static int event_node(const char *sysname, char *buf, size_t n)
{
        char dir[128];

        snprintf(dir, sizeof(dir), "/sys/devices/virtual/input/%s", sysname);
        for (int i = 0; i < 200; i++) {
                DIR *d = opendir(dir);
                struct dirent *de;

                while (d && (de = readdir(d)))
                        if (strncmp(de->d_name, "event", 5) == 0) {
                                snprintf(buf, n, "/dev/input/%s", de->d_name);
                                closedir(d);
                                /* devtmpfs creates the node asynchronously */
                                for (int k = 0; k < 200 && access(buf, F_OK) < 0; k++)
                                        usleep(5000);
                                return 0;
                        }
                if (d)
                        closedir(d);
                usleep(5000);
        }
        return -ETIMEDOUT;
}

static int create(const char *name)
{
        struct uinput_setup s = {
                .id = { .bustype = BUS_USB, .vendor = 0x1234, .product = 0x5678, .version = 1 }
        };
        char sysname[64], node[300];

        kbd = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (kbd < 0)
                return -errno;
        /* A full keyboard as udev's input_id sees one: KEY_ESC .. KEY_MICMUTE, with autorepeat. */
        if (ioctl(kbd, UI_SET_EVBIT, EV_KEY) < 0 || ioctl(kbd, UI_SET_EVBIT, EV_REP) < 0)
                return -errno;
        for (int k = KEY_ESC; k <= KEY_MICMUTE; k++)
                if (ioctl(kbd, UI_SET_KEYBIT, k) < 0)
                        return -errno;
        snprintf(s.name, sizeof(s.name), "%s", name);
        if (ioctl(kbd, UI_DEV_SETUP, &s) < 0 || ioctl(kbd, UI_DEV_CREATE) < 0)
                return -errno;
        if (ioctl(kbd, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0 ||
            event_node(sysname, node, sizeof(node)) < 0)
                return -EIO;
        printf("created %s\n", node);
        return 0;
}

static int create_mouse(const char *name)
{
        struct uinput_setup s = {
                .id = { .bustype = BUS_USB, .vendor = 0x1234, .product = 0x5679, .version = 1 }
        };
        static const int rels[] = { REL_X, REL_Y, REL_WHEEL, REL_HWHEEL };
        static const int btns[] = { BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA };
        char sysname[64], node[300];

        mouse = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
        if (mouse < 0)
                return -errno;
        if (ioctl(mouse, UI_SET_EVBIT, EV_KEY) < 0 || ioctl(mouse, UI_SET_EVBIT, EV_REL) < 0 ||
            ioctl(mouse, UI_SET_EVBIT, EV_MSC) < 0 || ioctl(mouse, UI_SET_MSCBIT, MSC_SCAN) < 0)
                return -errno;
        for (size_t i = 0; i < sizeof(rels) / sizeof(rels[0]); i++)
                if (ioctl(mouse, UI_SET_RELBIT, rels[i]) < 0)
                        return -errno;
        for (size_t i = 0; i < sizeof(btns) / sizeof(btns[0]); i++)
                if (ioctl(mouse, UI_SET_KEYBIT, btns[i]) < 0)
                        return -errno;
        snprintf(s.name, sizeof(s.name), "%s mouse", name);
        if (ioctl(mouse, UI_DEV_SETUP, &s) < 0 || ioctl(mouse, UI_DEV_CREATE) < 0)
                return -errno;
        if (ioctl(mouse, UI_GET_SYSNAME(sizeof(sysname)), sysname) < 0 ||
            event_node(sysname, node, sizeof(node)) < 0)
                return -EIO;
        printf("created-mouse %s\n", node);
        return 0;
}

static int destroy(void)
{
        if (kbd < 0)
                return -EBADF;
        ioctl(kbd, UI_DEV_DESTROY);
        close(kbd);
        kbd = -1;
        return 0;
}

static int cmp_long(const void *a, const void *b)
{
        long x = *(const long *)a, y = *(const long *)b;

        return (x > y) - (x < y);
}

static long elapsed_us(const struct timespec *a, const struct timespec *b)
{
        return (b->tv_sec - a->tv_sec) * 1000000L + (b->tv_nsec - a->tv_nsec) / 1000;
}

/* Waits (1 s at most) until NODE's fd yields EV_KEY code/value; other events are skipped. */
static int await_key(int fd, int code, int value)
{
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                struct input_event ev;
                ssize_t n;

                if (poll(&p, 1, 1000) <= 0)
                        return -ETIMEDOUT;
                n = read(fd, &ev, sizeof(ev));
                if (n < 0 && errno == EAGAIN)
                        continue;
                if (n != (ssize_t)sizeof(ev))
                        return n < 0 ? -errno : -EIO;
                if (ev.type == EV_KEY && ev.code == code && ev.value == value)
                        return 0;
        }
}

/* The same consumer reads either the device itself or the relay's copy of it, so the difference between
 * two runs is what the relay adds. F24 is on no real keyboard layout and toggles nothing. */
static int latency(const char *node, int count)
{
        long *us;
        int fd, r = 0, n = 0;

        if (kbd < 0 || count <= 0)
                return -EINVAL;
        fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0)
                return -errno;
        us = calloc((size_t)count * 2, sizeof(*us));
        if (!us) {
                close(fd);
                return -ENOMEM;
        }
        for (int i = 0; i < count && r == 0; i++)
                for (int value = 1; value >= 0 && r == 0; value--) {
                        struct timespec t0, t1;

                        clock_gettime(CLOCK_MONOTONIC, &t0);
                        r = key(KEY_F24, value);
                        if (r == 0)
                                r = await_key(fd, KEY_F24, value);
                        clock_gettime(CLOCK_MONOTONIC, &t1);
                        if (r == 0)
                                us[n++] = elapsed_us(&t0, &t1);
                }
        close(fd);
        if (r == 0) {
                qsort(us, (size_t)n, sizeof(*us), cmp_long);
                printf("latency %s n=%d median_us=%ld p90_us=%ld max_us=%ld\n", node, n, us[n / 2],
                       us[(n * 9) / 10], us[n - 1]);
        }
        free(us);
        return r;
}

static int parse_code(const char *s, int *ret)
{
        char *end;
        long v;

        errno = 0;
        v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < 0 || v > 100000)
                return -EINVAL;
        *ret = (int)v;
        return 0;
}

static int keyboard(const char *name)
{
        char line[256];

        setvbuf(stdout, NULL, _IOLBF, 0);
        while (fgets(line, sizeof(line), stdin)) {
                char cmd[32] = "", arg[64] = "";
                int code = 0, r;

                line[strcspn(line, "\n")] = 0;
                if (sscanf(line, "%31s %63s", cmd, arg) < 1)
                        continue;
                if (strcmp(cmd, "create") == 0)
                        r = create(name);
                else if (strcmp(cmd, "move") == 0) {
                        int dx = 0, dy = 0;

                        r = sscanf(line, "move %d %d", &dx, &dy) == 2 && mouse >= 0 ? 0 : -EINVAL;
                        if (r == 0) {
                                int saved = kbd;

                                kbd = mouse; /* emit() writes to kbd */
                                r = emit(EV_REL, REL_X, dx);
                                if (r == 0)
                                        r = emit(EV_REL, REL_Y, dy);
                                if (r == 0)
                                        r = emit(EV_SYN, SYN_REPORT, 0);
                                kbd = saved;
                        }
                } else if (strcmp(cmd, "create-mouse") == 0)
                        r = create_mouse(name);
                else if (strcmp(cmd, "destroy") == 0)
                        r = destroy();
                else if (strcmp(cmd, "latency") == 0) {
                        int count = 0;
                        char node[64];

                        r = sscanf(line, "latency %63s %d", node, &count) == 2 ? latency(node, count)
                                                                               : -EINVAL;
                } else if (strcmp(cmd, "quit") == 0) {
                        destroy();
                        if (mouse >= 0)
                                close(mouse);
                        printf("ok quit\n");
                        return 0;
                } else if ((r = parse_code(arg, &code)) < 0)
                        ;
                else if (strcmp(cmd, "press") == 0)
                        r = key(code, 1);
                else if (strcmp(cmd, "release") == 0)
                        r = key(code, 0);
                else if (strcmp(cmd, "tap") == 0)
                        r = key(code, 1) < 0 ? -EIO : key(code, 0);
                else if (strcmp(cmd, "sleep") == 0)
                        r = usleep((useconds_t)code * 1000);
                else
                        r = -EINVAL;
                if (r < 0)
                        printf("error %s: %s\n", line, strerror(-r));
                else
                        printf("ok %s\n", line);
        }
        destroy();
        return 0;
}

static int reader(const char *node, const char *secs)
{
        struct timespec end, now;
        int fd, code;

        if (parse_code(secs, &code) < 0)
                return 2;
        fd = open(node, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
        if (fd < 0) {
                printf("error open %s: %s\n", node, strerror(errno));
                return 1;
        }
        setvbuf(stdout, NULL, _IOLBF, 0);
        printf("reading %s\n", node);
        clock_gettime(CLOCK_MONOTONIC, &end);
        end.tv_sec += code;
        for (;;) {
                struct pollfd p = { .fd = fd, .events = POLLIN };
                struct input_event ev[64];
                ssize_t n;

                clock_gettime(CLOCK_MONOTONIC, &now);
                if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
                        break;
                if (poll(&p, 1, 200) <= 0)
                        continue;
                n = read(fd, ev, sizeof(ev));
                if (n < 0 && errno == EAGAIN)
                        continue;
                if (n <= 0) {
                        /* The relay's output must never go away: say so loudly if it does. */
                        printf("gone %s\n", n < 0 ? strerror(errno) : "eof");
                        return 1;
                }
                for (size_t i = 0; i < (size_t)n / sizeof(ev[0]); i++)
                        printf("E %d %d %d\n", ev[i].type, ev[i].code, ev[i].value);
        }
        printf("done\n");
        return 0;
}

int main(int argc, char **argv)
{
        if (argc == 3 && strcmp(argv[1], "keyboard") == 0)
                return keyboard(argv[2]);
        if (argc == 4 && strcmp(argv[1], "read") == 0)
                return reader(argv[2], argv[3]);
        fprintf(stderr, "usage: fake-input keyboard NAME | fake-input read NODE SECS\n");
        return 2;
}
