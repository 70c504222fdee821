/*
 * guest-tone [SECONDS [CARD]]: unmutes card CARD's playback controls and plays a 440 Hz tone on its first
 * PCM through the kernel's ioctls alone (no alsa-lib), so a busybox guest can make sound. Built static by
 * the audio test and put into the demo guest's initramfs. Interface: include/uapi/sound/asound.h; the kernel
 * refines and chooses the hardware parameters itself in SNDRV_PCM_IOCTL_HW_PARAMS (sound/core/pcm_native.c,
 * snd_pcm_hw_params).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <sound/asound.h>

#define RATE     48000
#define CHANNELS 2
#define PERIOD   4096 /* frames; a slow emulated guest needs a deep buffer */
#define PERIODS  4

static struct snd_mask *mask(struct snd_pcm_hw_params *p, int param)
{
        return &p->masks[param - SNDRV_PCM_HW_PARAM_FIRST_MASK];
}

static struct snd_interval *interval(struct snd_pcm_hw_params *p, int param)
{
        return &p->intervals[param - SNDRV_PCM_HW_PARAM_FIRST_INTERVAL];
}

static void only(struct snd_pcm_hw_params *p, int param, unsigned bit)
{
        struct snd_mask *m = mask(p, param);

        memset(m->bits, 0, sizeof(m->bits));
        m->bits[bit / 32] = 1u << (bit % 32);
}

static void exactly(struct snd_pcm_hw_params *p, int param, unsigned v)
{
        struct snd_interval *i = interval(p, param);

        i->min = i->max = v;
        i->integer = 1;
}

/*
 * ALSA starts every mixer control muted at 0 (what `amixer set Master unmute 100%` undoes), and QEMU's HDA
 * codec hands the guest's mixer to the sound server: set every playback switch on and volume to its top.
 */
static int unmute(const char *ctl)
{
        struct snd_ctl_elem_id ids[64];
        struct snd_ctl_elem_list list = { .space = 64, .pids = ids };
        int fd = open(ctl, O_RDWR | O_CLOEXEC), n = 0;

        if (fd < 0 || ioctl(fd, SNDRV_CTL_IOCTL_ELEM_LIST, &list) < 0) {
                fprintf(stderr, "guest-tone: %s: %s\n", ctl, strerror(errno));
                return -1;
        }
        for (unsigned i = 0; i < list.used; i++) {
                struct snd_ctl_elem_info info = { .id = ids[i] };
                struct snd_ctl_elem_value v = { .id = ids[i] };
                const char *name = (const char *)ids[i].name;

                if (!strstr(name, "Playback") || ioctl(fd, SNDRV_CTL_IOCTL_ELEM_INFO, &info) < 0)
                        continue;
                if (info.type != SNDRV_CTL_ELEM_TYPE_BOOLEAN && info.type != SNDRV_CTL_ELEM_TYPE_INTEGER)
                        continue;
                for (unsigned c = 0; c < info.count && c < 128; c++)
                        v.value.integer.value[c] =
                                info.type == SNDRV_CTL_ELEM_TYPE_BOOLEAN ? 1 : info.value.integer.max;
                if (ioctl(fd, SNDRV_CTL_IOCTL_ELEM_WRITE, &v) == 0) {
                        printf("guest-tone: %s = %s\n", name,
                               info.type == SNDRV_CTL_ELEM_TYPE_BOOLEAN ? "on" : "max");
                        n++;
                }
        }
        close(fd);
        return n;
}

int main(int argc, char **argv)
{
        const char *card = argc > 2 ? argv[2] : "0";
        char dev[64], ctl[64];
        unsigned seconds = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 5;
        struct snd_pcm_hw_params hw;
        static short buf[PERIOD * CHANNELS];
        /* A sine by rotation (no libm in a static busybox guest): s' = s + k c, c' = c - k s'. */
        float s = 0, c = 1, k = 2.0f * 3.14159265f * 440.0f / RATE;
        unsigned long frames = (unsigned long)seconds * RATE, done = 0;
        int fd;

        snprintf(dev, sizeof(dev), "/dev/snd/pcmC%sD0p", card);
        snprintf(ctl, sizeof(ctl), "/dev/snd/controlC%s", card);
        (void)unmute(ctl);
        fd = open(dev, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
                fprintf(stderr, "guest-tone: %s: %s\n", dev, strerror(errno));
                return 1;
        }
        memset(&hw, 0, sizeof(hw));
        for (int m = SNDRV_PCM_HW_PARAM_FIRST_MASK; m <= SNDRV_PCM_HW_PARAM_LAST_MASK; m++)
                memset(mask(&hw, m)->bits, 0xff, sizeof(mask(&hw, m)->bits));
        for (int i = SNDRV_PCM_HW_PARAM_FIRST_INTERVAL; i <= SNDRV_PCM_HW_PARAM_LAST_INTERVAL; i++)
                interval(&hw, i)->max = ~0u;
        hw.rmask = ~0u;
        only(&hw, SNDRV_PCM_HW_PARAM_ACCESS, SNDRV_PCM_ACCESS_RW_INTERLEAVED);
        only(&hw, SNDRV_PCM_HW_PARAM_FORMAT, SNDRV_PCM_FORMAT_S16_LE);
        only(&hw, SNDRV_PCM_HW_PARAM_SUBFORMAT, SNDRV_PCM_SUBFORMAT_STD);
        exactly(&hw, SNDRV_PCM_HW_PARAM_CHANNELS, CHANNELS);
        exactly(&hw, SNDRV_PCM_HW_PARAM_RATE, RATE);
        exactly(&hw, SNDRV_PCM_HW_PARAM_PERIOD_SIZE, PERIOD);
        exactly(&hw, SNDRV_PCM_HW_PARAM_PERIODS, PERIODS);
        if (ioctl(fd, SNDRV_PCM_IOCTL_HW_PARAMS, &hw) < 0) {
                fprintf(stderr, "guest-tone: HW_PARAMS: %s\n", strerror(errno));
                return 1;
        }
        if (ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) < 0) {
                fprintf(stderr, "guest-tone: PREPARE: %s\n", strerror(errno));
                return 1;
        }
        printf("guest-tone: playing 440 Hz for %u s on %s\n", seconds, dev);
        fflush(stdout);
        while (done < frames) {
                struct snd_xferi x = { .buf = buf, .frames = PERIOD };

                for (int f = 0; f < PERIOD; f++) {
                        s += k * c;
                        c -= k * s;
                        buf[f * CHANNELS] = buf[f * CHANNELS + 1] = (short)(s * 16000);
                }
                if (ioctl(fd, SNDRV_PCM_IOCTL_WRITEI_FRAMES, &x) < 0) {
                        /* An underrun (the emulated CPU fell behind): start again from here. */
                        if (errno == EPIPE && ioctl(fd, SNDRV_PCM_IOCTL_PREPARE) == 0)
                                continue;
                        fprintf(stderr, "guest-tone: WRITEI: %s\n", strerror(errno));
                        return 1;
                }
                done += (unsigned long)x.result;
        }
        (void)ioctl(fd, SNDRV_PCM_IOCTL_DRAIN);
        printf("guest-tone: done\n");
        return 0;
}
