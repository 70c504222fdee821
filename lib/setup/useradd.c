/* The VM user made for the host: useradd for a system account, never a shell, never a home. */
#include "vfioctl/useradd.h"

#include <assert.h>
#include <errno.h>

#include "exec-util.h"

void vfio_useradd_argv(const char *path, const char *user, const char *group,
                       const char *ret[static VFIO_USERADD_ARGC])
{
        const char *argv[VFIO_USERADD_ARGC] = {
                path, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", "--groups", group,
                user, NULL
        };

        assert(path);
        assert(user);
        assert(group);
        for (size_t i = 0; i < VFIO_USERADD_ARGC; i++)
                ret[i] = argv[i];
}

int vfio_useradd_system(const char *user, const char *group)
{
        char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
        const char *argv[VFIO_USERADD_ARGC];
        exec_opts o = { .envp = envp };
        exec_result res = {};
        int r;

        assert(user);
        assert(group);
        vfio_useradd_argv(VFIO_USERADD_PATH, user, group, argv);
        r = exec_run((char *const *)argv, &o, &res);
        if (r < 0)
                return r;
        r = res.status == 0 ? 0 : -ENOEXEC;
        exec_result_done(&res);
        return r;
}
