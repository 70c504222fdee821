/* The VM user's identity from etc/passwd and etc/group under the root (NSS as well on a live root). */
#include "vfioctl/account.h"

#include <assert.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "parse-util.h"
#include "strv.h"

#define DB_MAX (16u << 20)

vfio_account *vfio_account_free(vfio_account *a)
{
        if (!a)
                return NULL;
        free(a->name);
        strv_free(a->groups);
        free(a->gids);
        free(a->where);
        free(a);
        return NULL;
}

/* Field i (0-based) of a colon-separated line, newly allocated. */
static char *colon_field(const char *line, unsigned i)
{
        const char *p = line;

        for (unsigned k = 0; k < i; k++) {
                p = strchr(p, ':');
                if (!p)
                        return NULL;
                p++;
        }
        return strndup(p, strcspn(p, ":\n"));
}

static int add_group(vfio_account *a, const char *name, uint32_t gid)
{
        uint32_t *n;
        size_t len = strv_length(a->groups);

        for (size_t i = 0; i < len; i++)
                if (a->gids[i] == gid)
                        return 0;
        n = realloc(a->gids, (len + 1) * sizeof(uint32_t));
        if (!n)
                return -ENOMEM;
        a->gids = n;
        n[len] = gid;
        return strv_extend(&a->groups, name);
}

static int lookup_files(const vfio_host *h, const char *user, vfio_account **ret)
{
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        _cleanup_(vfio_account_freep) vfio_account *a = NULL;
        int r;

        r = vfio_host_read_attr(h, "etc/passwd", DB_MAX, &passwd);
        if (r < 0)
                return r;
        for (const char *line = passwd; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *name = colon_field(line, 0), *uid_s = colon_field(line, 2),
                                    *gid_s = colon_field(line, 3);
                uint64_t uid, gid;

                if (!name || !uid_s || !gid_s || strcmp(name, user) != 0)
                        continue;
                if (parse_uint(uid_s, 10, UINT32_MAX, &uid) < 0 ||
                    parse_uint(gid_s, 10, UINT32_MAX, &gid) < 0)
                        continue;
                a = calloc(1, sizeof(*a));
                if (!a)
                        return -ENOMEM;
                a->name = TAKE_PTR(name);
                a->uid = (uint32_t)uid;
                a->gid = (uint32_t)gid;
                a->where = strdup("etc/passwd");
                a->groups = calloc(1, sizeof(char *));
                if (!a->where || !a->groups)
                        return -ENOMEM;
                break;
        }
        if (!a)
                return -ENOENT;
        r = vfio_host_read_attr(h, "etc/group", DB_MAX, &group);
        if (r == -ENOMEM)
                return r;
        /* The primary group first, then every group listing the user (group(5)). */
        for (int pass = 0; r >= 0 && pass < 2; pass++)
                for (const char *line = group; line && *line;
                     line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                        _cleanup_free_ char *name = colon_field(line, 0), *gid_s = colon_field(line, 2),
                                            *mem = colon_field(line, 3);
                        _cleanup_strv_free_ char **members = NULL;
                        uint64_t gid;

                        if (!name || !gid_s || !mem || parse_uint(gid_s, 10, UINT32_MAX, &gid) < 0)
                                continue;
                        if (strv_split(mem, ",", &members) < 0)
                                return -ENOMEM;
                        if ((pass == 0 && gid == a->gid) || (pass == 1 && strv_contains(members, a->name)))
                                if (add_group(a, name, (uint32_t)gid) < 0)
                                        return -ENOMEM;
                }
        {
                char buf[16];

                /* A primary group missing from etc/group still counts for permission checks. */
                snprintf(buf, sizeof(buf), "%u", (unsigned)a->gid);
                if (add_group(a, buf, a->gid) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int vfio_account_lookup_nss(const char *user, vfio_account **ret)
{
        _cleanup_(vfio_account_freep) vfio_account *a = NULL;
        gid_t gids[256];
        int n = (int)ELEMENTSOF(gids);
        struct passwd *pw;

        errno = 0;
        pw = getpwnam(user);
        if (!pw)
                return errno > 0 ? -errno : -ENOENT;
        a = calloc(1, sizeof(*a));
        if (!a)
                return -ENOMEM;
        a->name = strdup(pw->pw_name);
        a->uid = pw->pw_uid;
        a->gid = pw->pw_gid;
        a->where = strdup("NSS");
        a->groups = calloc(1, sizeof(char *));
        if (!a->name || !a->where || !a->groups)
                return -ENOMEM;
        if (getgrouplist(a->name, pw->pw_gid, gids, &n) < 0)
                n = 0;
        for (int i = 0; i < n; i++) {
                struct group *g = getgrgid(gids[i]);
                char buf[16];

                snprintf(buf, sizeof(buf), "%u", (unsigned)gids[i]);
                if (add_group(a, g ? g->gr_name : buf, gids[i]) < 0)
                        return -ENOMEM;
        }
        *ret = TAKE_PTR(a);
        return 0;
}

int vfio_account_lookup(const vfio_host *h, const char *user, vfio_account **ret)
{
        int r;

        assert(ret);

        r = lookup_files(h, user, ret);
        if (r == -ENOMEM || r >= 0)
                return r;
        /* Users from LDAP/sssd are only in NSS, and NSS describes the running system only. */
        if (vfio_host_is_live(h))
                return vfio_account_lookup_nss(user, ret);
        /* A captured tree may lack etc/passwd; root is uid 0 on every Linux system regardless. */
        if (strcmp(user, "root") == 0) {
                _cleanup_(vfio_account_freep) vfio_account *a = calloc(1, sizeof(vfio_account));

                if (!a || !(a->name = strdup("root")) || !(a->where = strdup("implicit")) ||
                    !(a->groups = calloc(1, sizeof(char *))) || add_group(a, "root", 0) < 0)
                        return -ENOMEM;
                *ret = TAKE_PTR(a);
                return 0;
        }
        return -ENOENT;
}

static char *db_name(const vfio_host *h, const char *db, uint32_t id)
{
        _cleanup_free_ char *text = NULL;

        if (vfio_host_read_attr(h, db, DB_MAX, &text) < 0)
                return NULL;
        for (const char *line = text; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *name = colon_field(line, 0), *id_s = colon_field(line, 2);
                uint64_t v;

                if (name && id_s && parse_uint(id_s, 10, UINT32_MAX, &v) >= 0 && v == id)
                        return TAKE_PTR(name);
        }
        return NULL;
}

int vfio_account_group_gid(const vfio_host *h, const char *group, uint32_t *ret)
{
        _cleanup_free_ char *text = NULL;
        struct group *g;
        int r;

        r = vfio_host_read_attr(h, "etc/group", DB_MAX, &text);
        if (r == -ENOMEM)
                return r;
        for (const char *line = r >= 0 ? text : NULL; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *name = colon_field(line, 0), *id_s = colon_field(line, 2);
                uint64_t v;

                if (name && id_s && strcmp(name, group) == 0 && parse_uint(id_s, 10, UINT32_MAX, &v) >= 0) {
                        *ret = (uint32_t)v;
                        return 0;
                }
        }
        /* Groups from LDAP/sssd are only in NSS, which describes the running system only. */
        if (!vfio_host_is_live(h) || !(g = getgrnam(group)))
                return -ENOENT;
        *ret = g->gr_gid;
        return 0;
}

char *vfio_account_group_name(const vfio_host *h, uint32_t gid)
{
        return db_name(h, "etc/group", gid);
}

char *vfio_account_user_name(const vfio_host *h, uint32_t uid)
{
        return db_name(h, "etc/passwd", uid);
}

int vfio_account_can_rw(const vfio_account *a, uint32_t st_uid, uint32_t st_gid, uint32_t mode)
{
        size_t n;

        assert(a);

        n = strv_length(a->groups);
        if (a->uid == 0)
                return 1;
        /* The first class that matches decides, even when a later one would allow more (inode(7)). */
        if (a->uid == st_uid)
                return (mode & (S_IRUSR | S_IWUSR)) == (S_IRUSR | S_IWUSR);
        for (size_t i = 0; i < n; i++)
                if (a->gids[i] == st_gid)
                        return (mode & (S_IRGRP | S_IWGRP)) == (S_IRGRP | S_IWGRP);
        return (mode & (S_IROTH | S_IWOTH)) == (S_IROTH | S_IWOTH);
}

int vfio_account_group_users(const vfio_host *h, uint32_t gid, char ***ret)
{
        _cleanup_free_ char *passwd = NULL, *group = NULL;
        _cleanup_strv_free_ char **out = calloc(1, sizeof(char *));
        int r;

        if (!out)
                return -ENOMEM;
        if (vfio_host_read_attr(h, "etc/passwd", DB_MAX, &passwd) == -ENOMEM ||
            vfio_host_read_attr(h, "etc/group", DB_MAX, &group) == -ENOMEM)
                return -ENOMEM;
        for (const char *line = passwd; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *name = colon_field(line, 0), *gid_s = colon_field(line, 3);
                uint64_t v;

                if (name && *name && gid_s && parse_uint(gid_s, 10, UINT32_MAX, &v) >= 0 && v == gid &&
                    !strv_contains(out, name) && (r = strv_extend(&out, name)) < 0)
                        return r;
        }
        for (const char *line = group; line && *line;
             line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
                _cleanup_free_ char *gid_s = colon_field(line, 2), *mem = colon_field(line, 3);
                _cleanup_strv_free_ char **members = NULL;
                uint64_t v;

                if (!gid_s || !mem || parse_uint(gid_s, 10, UINT32_MAX, &v) < 0 || v != gid)
                        continue;
                if (strv_split(mem, ",", &members) < 0)
                        return -ENOMEM;
                STRV_FOREACH(m, members)
                        if (!strv_contains(out, *m) && (r = strv_extend(&out, *m)) < 0)
                                return r;
        }
        *ret = TAKE_PTR(out);
        return 0;
}

int vfio_account_seat_user(const vfio_host *h, char **ret)
{
        _cleanup_free_ char *seat = NULL, *name = NULL;
        const char *p;
        uint64_t uid;
        int r;

        /* systemd-logind's record of seat0 (sd_seat_get_active reads the same file). */
        r = vfio_host_read_attr(h, "run/systemd/seats/seat0", 64 * 1024, &seat);
        if (r < 0)
                return r;
        if (strncmp(seat, "ACTIVE_UID=", 11) == 0)
                p = seat + 11;
        else if ((p = strstr(seat, "\nACTIVE_UID=")))
                p += 12;
        else
                return -ENOENT;
        {
                _cleanup_free_ char *v = strndup(p, strcspn(p, "\n"));

                if (!v)
                        return -ENOMEM;
                if (parse_uint(v, 10, UINT32_MAX - 1, &uid) < 0)
                        return -ENOENT;
        }
        name = vfio_account_user_name(h, (uint32_t)uid);
        if (!name && vfio_host_is_live(h)) {
                struct passwd *pw = getpwuid((uid_t)uid);

                name = pw ? strdup(pw->pw_name) : NULL;
        }
        if (!name)
                return -ENOENT;
        *ret = TAKE_PTR(name);
        return 0;
}
