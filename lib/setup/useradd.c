/* The VM user made for the host: useradd for a system account, never a shell, never a home. */
#include "vfioctl/useradd.h"

#include <assert.h>
#include <errno.h>

#include "exec-util.h"

int vfio_useradd_system(const char *user, const char *group)
{
        char *const envp[] = { (char *)"PATH=/usr/sbin:/usr/bin:/sbin:/bin", (char *)"LC_ALL=C", NULL };
        exec_opts o = { .envp = envp };
        exec_result res = {};
        int r;

        assert(user);
        assert(group);
        r = exec_run((char *const[]){ (char *)VFIO_USERADD_PATH, (char *)"--system",
                                      (char *)"--no-create-home", (char *)"--shell",
                                      (char *)"/usr/sbin/nologin", (char *)"--groups", (char *)group,
                                      (char *)user, NULL },
                     &o, &res);
        if (r < 0)
                return r;
        r = res.status == 0 ? 0 : -ENOEXEC;
        exec_result_done(&res);
        return r;
}
